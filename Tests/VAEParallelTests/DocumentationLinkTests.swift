import Foundation
import XCTest
import VAETestSupport

/// README.md, docs/ and cluster/README.md link only to files inside the repository, and
/// every file they link to exists: a reader of a clone or a tarball can follow each one.
final class DocumentationLinkTests: XCTestCase {
    /// The Markdown files a reader follows links in.
    private func documents() throws -> [String] {
        let docs = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/docs")
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        return ["README.md", "cluster/README.md"] + docs
    }

    /// The problems of one document's links: each names the link and what is wrong.
    /// `[text](target)` links must resolve to an existing file or directory inside `root`;
    /// any other relative path that climbs with `../` must stay inside `root`.
    static func linkProblems(in text: String, documentDirectory: String, root: String) -> [String] {
        var problems: [String] = []
        let rootPath = URL(fileURLWithPath: root).standardizedFileURL.path
        func resolve(_ target: String) -> String {
            URL(fileURLWithPath: documentDirectory).appendingPathComponent(target).standardizedFileURL.path
        }
        func isInside(_ path: String) -> Bool { path == rootPath || path.hasPrefix(rootPath + "/") }

        let link = try! NSRegularExpression(pattern: #"\]\(([^)\s]+)\)"#)
        for match in link.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let target = String(text[Range(match.range(at: 1), in: text)!])
            if target.contains("://") || target.hasPrefix("mailto:") || target.hasPrefix("#") { continue }
            let path = resolve(String(target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]))
            if !isInside(path) {
                problems.append("link \(target) leaves the repository")
            } else if !FileManager.default.fileExists(atPath: path) {
                problems.append("link \(target): no such file")
            }
        }
        let climb = try! NSRegularExpression(pattern: #"(?<![\w./])(?:\.\./)+[\w.-][\w./-]*"#)
        for match in climb.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let target = String(text[Range(match.range, in: text)!])
            if !isInside(resolve(target)) { problems.append("path \(target) points outside the repository") }
        }
        return problems
    }

    func testEveryRelativeLinkResolvesInsideTheRepository() throws {
        let documents = try documents()
        XCTAssertTrue(documents.contains("docs/data.md"), "\(documents)")
        for document in documents {
            let path = repositoryRoot + "/" + document
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let problems = Self.linkProblems(in: text, documentDirectory: (path as NSString).deletingLastPathComponent,
                                             root: repositoryRoot)
            XCTAssertEqual(problems, [], document)
        }
    }

    /// The checker itself: it finds what the test above must never see.
    func testTheCheckerFindsLinksOutsideTheRepositoryAndMissingFiles() throws {
        let text = """
            See [faults](docs/faults.md), [a section](docs/data.md#layout), [site](https://example.org/x)
            and [top](#layout). Bad: [outside](../shared/BASELINES.md), [gone](docs/nothing.md),
            and in plain text (../shared/BASELINES.md); fine: [up and back](docs/../README.md).
            """
        XCTAssertEqual(Self.linkProblems(in: text, documentDirectory: repositoryRoot, root: repositoryRoot), [
            "link ../shared/BASELINES.md leaves the repository",
            "link docs/nothing.md: no such file",
            "path ../shared/BASELINES.md points outside the repository",
            "path ../shared/BASELINES.md points outside the repository",
        ])
    }
}
