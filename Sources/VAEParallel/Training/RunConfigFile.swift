import VAEBuildInfo
import VAECore

/// A run's config.json: the training configuration, and the vae-dist that ran it.
///
/// The configuration's own keys, plus `vae_dist_version` and `vae_dist_commit` (as on every
/// HDF5 file vae-dist writes), so `json.load` of a run names the code that made it, and
/// `init_from`, the checkpoint whose weights a run started from (`--init-from`).
struct RunConfigFile: Encodable {
    let configuration: TrainingConfiguration
    var initFrom: String? = nil

    private enum RunKeys: String, CodingKey {
        case version = "vae_dist_version"
        case commit = "vae_dist_commit"
        case initFrom = "init_from"
    }

    func encode(to encoder: Encoder) throws {
        try configuration.encode(to: encoder)
        var container = encoder.container(keyedBy: RunKeys.self)
        try container.encode(BuildInfo.version, forKey: .version)
        try container.encode(BuildInfo.commit, forKey: .commit)
        try container.encodeIfPresent(initFrom, forKey: .initFrom)
    }
}
