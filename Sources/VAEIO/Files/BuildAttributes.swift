import VAEBuildInfo

/// The root attributes that say which vae-dist wrote a file.
///
/// Every HDF5 file vae-dist writes carries them (`writeHDF5FileAtomically` adds them), as
/// config.json does, so a checkpoint or an embedding found later can be traced to its code.
public enum BuildAttributes {
    public static let versionName = "vae_dist_version"
    public static let commitName = "vae_dist_commit"

    /// Writes both onto `object` (a file's root).
    static func record(on object: HDF5Object) throws {
        try object.setAttribute(versionName, BuildInfo.version)
        try object.setAttribute(commitName, BuildInfo.commit)
    }
}
