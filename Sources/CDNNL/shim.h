// oneDNN's C API (Debian's libdnnl-dev 2.6: no pkg-config file, the headers in /usr/include).
#include <oneapi/dnnl/dnnl.h>
