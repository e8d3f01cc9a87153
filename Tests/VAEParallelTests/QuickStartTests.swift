import Foundation
import XCTest
import VAETestSupport

/// README's quick start: after scripts/run.sh, `vae-dist ...` commands work as written.
/// scripts/install.sh puts the binary on PATH, and every `vae-dist` command line in the
/// README's and docs' shell blocks names a subcommand and options the binary has.
final class QuickStartTests: XCTestCase {
    func testInstallLinksTheBinaryOntoPATH() throws {
        let directory = try makeScratchDirectory(self)
        let bin = directory + "/bin"
        let environment = childEnvironment(["VAE_DIST_BINARY": try vaeDistBinary().path, "VAE_DIST_BIN_DIR": bin])
        let install = try runProcess(URL(fileURLWithPath: "/bin/bash"), [repositoryRoot + "/scripts/install.sh"],
                                     environment: environment, timeout: 60)
        XCTAssertEqual(install.status, 0, install.standardError)
        XCTAssertTrue(install.standardOutput.contains("export PATH=\"\(bin):$PATH\""), install.standardOutput)
        // A shell that follows the printed advice finds `vae-dist` by name.
        var withPath = environment
        withPath["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        let version = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", "vae-dist --version"], environment: withPath, timeout: 30)
        XCTAssertEqual(version.status, 0, version.standardError)
        XCTAssertTrue(version.standardOutput.hasPrefix("vae-dist "), version.standardOutput)
        // Again, with the directory on PATH: idempotent, and it says all is well.
        let again = try runProcess(URL(fileURLWithPath: "/bin/bash"), [repositoryRoot + "/scripts/install.sh"],
                                   environment: withPath, timeout: 60)
        XCTAssertEqual(again.status, 0, again.standardError)
        XCTAssertTrue(again.standardOutput.contains("is on PATH"), again.standardOutput)
    }

    /// The `vae-dist` command lines of a document's ```sh blocks: (line, words after `vae-dist`).
    static func commandLines(in markdown: String) -> [(line: String, words: [String])] {
        var result: [(String, [String])] = []
        var inShell = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") {
                inShell = !inShell && (trimmed == "```sh" || trimmed == "```bash")
                continue
            }
            guard inShell else { continue }
            let command = trimmed.components(separatedBy: " #").first!.trimmingCharacters(in: .whitespaces)
            let words = command.split(separator: " ").map(String.init)
            guard let start = words.firstIndex(of: "vae-dist"), !command.contains("...") else { continue }
            result.append((String(trimmed), Array(words[(start + 1)...])))
        }
        return result
    }

    func testEveryDocumentedCommandLineNamesRealSubcommandsAndOptions() throws {
        let documents = ["README.md", "cluster/README.md"]
            + (try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/docs")).filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        var checked = 0
        var helpCache: [String: String] = [:]
        for document in documents {
            let text = try String(contentsOfFile: repositoryRoot + "/" + document, encoding: .utf8)
            for (line, words) in Self.commandLines(in: text) {
                // The subcommand path: the words before the first option or argument that is no subcommand.
                var path: [String] = []
                var help = ""
                for word in words where !word.hasPrefix("-") {
                    let candidate = path + [word]
                    let key = candidate.joined(separator: " ")
                    if helpCache[key] == nil {
                        let result = try runVAEDist(candidate + ["--help"])
                        helpCache[key] = result.status == 0 && result.standardOutput.contains("USAGE: vae-dist \(key)") ? result.standardOutput : ""
                    }
                    guard let text = helpCache[key], !text.isEmpty else { break }
                    path = candidate
                    help = text
                }
                if words.first == "--version" { continue }
                XCTAssertFalse(path.isEmpty, "\(document): `\(line)` names no vae-dist subcommand")
                for option in words where option.hasPrefix("--") {
                    let name = option.split(separator: "=").first.map(String.init) ?? option
                    XCTAssertTrue(help.contains(name + " ") || help.contains(name + "\n") || help.contains(name + ","),
                                  "\(document): `\(line)`: `vae-dist \(path.joined(separator: " "))` has no option \(name)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 20, "the README alone has more vae-dist command lines than this")
    }
}
