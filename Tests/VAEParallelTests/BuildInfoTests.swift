import Foundation
import XCTest
import VAETestSupport
import VAEBuildInfo
import VAECore
import VAEIO

/// `vae-dist --version`, and the version and commit recorded in config.json and in the root
/// of every HDF5 file vae-dist writes; the commit of a build from a git checkout or a tarball.
final class BuildInfoTests: XCTestCase {
    private func git(_ arguments: [String], in directory: String = repositoryRoot) throws -> ProcessResult {
        try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["git", "-c", "safe.directory=*", "-C", directory] + arguments,
                       environment: childEnvironment(), timeout: 30)
    }

    /// HEAD of this checkout; nil when it is not a git checkout (a tarball) or git is missing.
    private func headCommit() throws -> String? {
        guard FileManager.default.fileExists(atPath: repositoryRoot + "/.git"),
              let result = try? git(["rev-parse", "HEAD"]), result.status == 0 else { return nil }
        return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testVersionNamesTheReleaseAndTheCommitOfTheBuild() throws {
        let result = try runVAEDist(["--version"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertEqual(result.standardOutput, "vae-dist \(BuildInfo.version) (commit \(BuildInfo.commit))\n")
        if let head = try headCommit() {
            // Built from this checkout: its HEAD, "-dirty" when tracked files were edited.
            XCTAssertTrue(BuildInfo.commit == head || BuildInfo.commit == head + "-dirty", "\(BuildInfo.commit) vs HEAD \(head)")
        } else {
            XCTAssertTrue(BuildInfo.commit == "unknown" || BuildInfo.commit.range(of: "^[0-9a-f]{40}$", options: .regularExpression) != nil,
                          BuildInfo.commit)
        }
    }

    /// A data file, a checkpoint, config.json and an embeddings file, each from the binary.
    func testEveryFileVaeDistWritesNamesItsBuild() throws {
        let directory = try makeScratchDirectory(self)
        let npy = directory + "/x.npy"
        try Data(npyBytes(descr: "|u1", shape: [37, 10], payload: syntheticFeatures(rows: 37, features: 10, seed: 4).map { UInt8($0 * 255) }))
            .write(to: URL(fileURLWithPath: npy))
        let data = directory + "/data.h5"
        XCTAssertEqual(try runVAEDist(["prepare", "npy", npy, "--out", data]).status, 0)
        let run = directory + "/run"
        XCTAssertEqual(try runVAEDist(trainArguments(smallConfiguration(epochs: 1), data: data, out: run)).status, 0)
        XCTAssertEqual(try runVAEDist(["embed", "--checkpoint", run, "--data", data]).status, 0)

        let checkpoint = try CheckpointLocation.resolve(run).path
        for path in [data, checkpoint, run + "/embeddings.h5"] {
            let root = try HDF5File.open(path).root()
            XCTAssertEqual(try root.stringAttribute("vae_dist_version"), BuildInfo.version, path)
            XCTAssertEqual(try root.stringAttribute("vae_dist_commit"), BuildInfo.commit, path)
        }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/config.json"))) as? [String: Any]
        XCTAssertEqual(config?["vae_dist_version"] as? String, BuildInfo.version)
        XCTAssertEqual(config?["vae_dist_commit"] as? String, BuildInfo.commit)
        XCTAssertNotNil(config?["architecture"], "the configuration's own keys stay at the top level")
        // The configuration still reads back as it was written.
        let decoded = try JSONDecoder().decode(TrainingConfiguration.self, from: Data(contentsOf: URL(fileURLWithPath: run + "/config.json")))
        XCTAssertEqual(decoded, try finalParameters(run).configuration)
    }

    /// A tarball `git archive` made has no .git: the commit comes from ArchiveCommit.txt, which
    /// git filled in (export-subst); a tarball of a plain copy says "unknown"; a tarball unpacked
    /// inside some other repository does not take that repository's commit.
    func testATarballBuildNamesTheArchivedCommit() throws {
        guard let head = try headCommit() else { throw XCTSkip("not a git checkout: git archive cannot be tried") }
        let directory = try makeScratchDirectory(self)
        let archive = directory + "/source.tar"
        let made = try git(["archive", "--format=tar", "-o", archive, "HEAD", "scripts/build-commit.sh", "Sources/VAEBuildInfo"])
        XCTAssertEqual(made.status, 0, made.standardError)
        let unpacked = directory + "/unpacked"
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        // Unpacked inside a repository of its own: that repository's commit must not be taken.
        XCTAssertEqual(try git(["init", "-q", directory], in: directory).status, 0)
        XCTAssertEqual(try runProcess(URL(fileURLWithPath: "/bin/tar"), ["-xf", archive, "-C", unpacked],
                                  environment: childEnvironment(), timeout: 30).status, 0)
        func generated() throws -> String {
            let output = directory + "/BuildCommit.swift"
            try? FileManager.default.removeItem(atPath: output)
            let result = try runProcess(URL(fileURLWithPath: "/bin/sh"), [unpacked + "/scripts/build-commit.sh", unpacked, output],
                                        environment: childEnvironment(), timeout: 30)
            XCTAssertEqual(result.status, 0, result.standardError)
            return try String(contentsOfFile: output, encoding: .utf8)
        }
        let archived = try generated()
        XCTAssertTrue(archived.hasSuffix("let generatedCommit = \"\(head)\"\n"), archived)

        try "$Format:%H$\n".write(toFile: unpacked + "/Sources/VAEBuildInfo/ArchiveCommit.txt", atomically: true, encoding: .utf8)
        let plainCopy = try generated()
        XCTAssertTrue(plainCopy.hasSuffix("let generatedCommit = \"unknown\"\n"), plainCopy)
    }
}
