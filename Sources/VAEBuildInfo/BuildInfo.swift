/// What vae-dist this is: its version and the git commit it was built from.
///
/// Both go into `vae-dist --version`, every run's config.json and the root attributes of
/// every HDF5 file vae-dist writes (`vae_dist_version`, `vae_dist_commit`), so a result
/// can be traced to the code that made it.
public enum BuildInfo {
    /// The release number; raise it when a file format or a command line changes.
    public static let version = "0.5.0"

    /// The 40-hex-digit commit, with "-dirty" when tracked files differed from it;
    /// "unknown" when built outside git from a tarball `git archive` did not make.
    public static var commit: String { generatedCommit }

    /// "0.5.0 (commit 1a2b...)": the line of `vae-dist --version`.
    public static var versionLine: String { "\(version) (commit \(commit))" }
}
