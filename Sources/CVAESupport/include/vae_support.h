// The MPI and HDF5 constants that are C macros (and so invisible to Swift),
// returned by plain functions. Nothing here computes anything.
#ifndef VAE_SUPPORT_H
#define VAE_SUPPORT_H

#include <mpi.h>
#include <hdf5.h>

// MPI
MPI_Comm vae_mpi_comm_world(void);
MPI_Datatype vae_mpi_float(void);
MPI_Datatype vae_mpi_double(void);
MPI_Datatype vae_mpi_int64(void);
MPI_Datatype vae_mpi_int32(void);
MPI_Datatype vae_mpi_uint8(void);
MPI_Datatype vae_mpi_char(void);
MPI_Op vae_mpi_sum(void);
MPI_Op vae_mpi_max(void);
MPI_Op vae_mpi_min(void);
void *vae_mpi_in_place(void);
MPI_Request vae_mpi_request_null(void);
MPI_Status *vae_mpi_status_ignore(void);
MPI_Errhandler vae_mpi_errors_return(void);
int vae_mpi_success(void);
int vae_mpi_max_error_string(void);
int vae_mpi_thread_funneled(void);
int vae_mpi_max_library_version_string(void);
int vae_mpi_comm_type_shared(void);
MPI_Info vae_mpi_info_null(void);
int vae_mpi_mode_nocheck(void);
MPI_Comm vae_mpi_comm_null(void);
MPI_Win vae_mpi_win_null(void);

// HDF5
hid_t vae_h5p_default(void);
hid_t vae_h5s_all(void);
hid_t vae_h5e_default(void);
hid_t vae_h5p_file_access(void);
hid_t vae_h5p_file_create(void);
hid_t vae_h5p_dataset_create(void);
hid_t vae_h5p_link_create(void);
unsigned vae_h5f_acc_rdonly(void);
unsigned vae_h5f_acc_rdwr(void);
unsigned vae_h5f_acc_trunc(void);
unsigned vae_h5f_acc_excl(void);
hid_t vae_h5t_native_float(void);
hid_t vae_h5t_native_double(void);
hid_t vae_h5t_native_uint8(void);
hid_t vae_h5t_native_int8(void);
hid_t vae_h5t_native_int32(void);
hid_t vae_h5t_native_int64(void);
hid_t vae_h5t_native_uint32(void);
hid_t vae_h5t_native_uint64(void);
hid_t vae_h5t_c_s1(void);
hid_t vae_h5t_ieee_f32le(void);
hid_t vae_h5t_ieee_f64le(void);
hid_t vae_h5t_std_u8le(void);
hid_t vae_h5t_std_i32le(void);
hid_t vae_h5t_std_i64le(void);
hsize_t vae_h5s_unlimited(void);
size_t vae_h5t_variable(void);
hid_t vae_h5p_dataset_access(void);
int vae_h5z_filter_deflate(void);
int vae_h5z_filter_shuffle(void);

#endif
