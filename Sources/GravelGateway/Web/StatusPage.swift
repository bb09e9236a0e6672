import Shared

/// The page at `/`: every group with its labels, push times, families and series counts,
/// a filter and paging, rendered on the server.
///
/// No JavaScript is needed to read it; with the admin API on, a few inline lines make the
/// delete buttons issue the same `DELETE` a client would. Only the groups of the shown
/// page are rendered, so a gateway with 10,000 groups answers as fast as one with 50.
struct StatusPage {
    /// What the page's query string asks for: `?filter=job%3D%22batch%22+eu&page=2&per_page=50`.
    struct Query: Equatable {
        var filter = ""
        var page = 1
        var perPage = 50

        static let maxPerPage = 500

        init(filter: String = "", page: Int = 1, perPage: Int = 50) {
            self.filter = filter
            self.page = page
            self.perPage = perPage
        }

        /// Parses a query string as an HTML form writes it (`+` for space, percent escapes).
        /// Unknown parameters and malformed numbers are ignored: a hand-edited URL still shows a page.
        init(queryString: String?) {
            guard let queryString else { return }
            for pair in queryString.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = Self.formDecode(parts[0])
                let value = parts.count > 1 ? Self.formDecode(parts[1]) : ""
                switch name {
                case "filter": filter = value
                case "page": if let n = Int(value), n >= 1 { page = n }
                case "per_page": if let n = Int(value), n >= 1 { perPage = min(n, Self.maxPerPage) }
                default: break
                }
            }
        }

        static func formDecode(_ text: Substring) -> String {
            let spaced = String(text.map { $0 == "+" ? " " : $0 })
            return PercentEncoding.decode(spaced) ?? spaced
        }

        /// This query's URL for another page (the filter kept).
        func url(page: Int) -> String {
            var url = "/?"
            if !filter.isEmpty { url += "filter=" + Self.formEncode(filter) + "&" }
            url += "page=\(page)"
            if perPage != 50 { url += "&per_page=\(perPage)" }
            return url
        }

        private static let hexDigits = Array("0123456789ABCDEF".utf8)

        static func formEncode(_ text: String) -> String {
            var out = ""
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                    UInt8(ascii: "~"):
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                case UInt8(ascii: " "):
                    out += "+"
                default:
                    out += "%"
                    out.unicodeScalars.append(Unicode.Scalar(Self.hexDigits[Int(byte >> 4)]))
                    out.unicodeScalars.append(Unicode.Scalar(Self.hexDigits[Int(byte & 0xF)]))
                }
            }
            return out
        }
    }

    let snapshot: MetricStore.Snapshot
    let query: Query
    let now: Double
    let seriesTotal: Int
    /// `--web.enable-admin-api`: delete buttons and "delete all".
    let adminAPI: Bool
    let version: String

    /// Group keys that match every whitespace-separated filter term, ASCII case-insensitively,
    /// in the group's labels as the text format writes them (`job="batch"`) or in one of
    /// its family names.
    func matchingKeys() -> [LabelKey] {
        let terms = query.filter.split(whereSeparator: { $0 == " " || $0 == "\t" })
            .map { Array($0.utf8).map(Self.lowercased) }
        guard !terms.isEmpty else { return snapshot.sortedGroupKeys }
        return snapshot.sortedGroupKeys.filter { key in
            key.bytes.withUnsafeBufferPointer { labels in
                var group: MetricStore.Group? = nil
                for term in terms where !Self.contains(labels, term) {
                    // Family names only when the labels miss: most filters name labels.
                    if group == nil { group = snapshot.groups[key] }
                    guard let families = group?.state.families else { return false }
                    let named = families.keys.contains { name in
                        var name = name
                        return name.withUTF8 { Self.contains($0, term) }
                    }
                    if !named { return false }
                }
                return true
            }
        }
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// Whether `haystack` holds `needle` (already lower-case), ignoring ASCII case.
    ///
    /// On raw buffers: the filter scans every group's labels on each request, and this
    /// keeps 10,000 groups well inside the page's time budget even in a debug build.
    static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        needle.withUnsafeBufferPointer { needle in
            guard needle.count <= haystack.count else { return false }
            guard let first = needle.first else { return true }
            // Both spellings of the first byte, compared without a call per byte: a debug
            // build does not inline, and this loop runs over every group's labels.
            let firstUpper = first &- 0x61 < 26 ? first & 0xDF : first
            let h = haystack.baseAddress!
            let n = needle.baseAddress!
            var start = 0
            let lastStart = haystack.count - needle.count
            while start <= lastStart {
                let b = h[start]
                if b == first || b == firstUpper {
                    var offset = 1
                    while offset < needle.count {
                        let c = h[start + offset]
                        if (c &- 0x41 < 26 ? c | 0x20 : c) != n[offset] { break }
                        offset += 1
                    }
                    if offset == needle.count { return true }
                }
                start += 1
            }
            return false
        }
    }

    func render() -> [UInt8] {
        let keys = matchingKeys()
        let pages = max(1, (keys.count + query.perPage - 1) / query.perPage)
        let page = min(query.page, pages)
        let shown = keys.isEmpty ? keys[...] : keys[((page - 1) * query.perPage)..<min(keys.count, page * query.perPage)]

        var html = HTMLWriter()
        html.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        html.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        html.raw("<title>Gravel gateway</title><style>")
        html.raw(Self.css)
        html.raw("</style></head><body>\n<header><h1>Gravel gateway</h1><span class=\"meta\">")
        html.number(snapshot.groups.count)
        html.raw(snapshot.groups.count == 1 ? " group, " : " groups, ")
        html.number(seriesTotal)
        html.raw(" series")
        html.raw(" · version ")
        html.text(version)
        html.raw(" · <a href=\"/metrics\">/metrics</a> · <a href=\"/api/v1/metrics\">/api/v1/metrics</a></span></header>\n")

        html.raw(
            "<form class=\"filter\" method=\"get\" action=\"/\"><input type=\"search\" name=\"filter\" placeholder=\"job=&quot;batch&quot; or a metric name\""
        )
        html.attribute("value", query.filter)
        html.raw(">")
        if query.perPage != 50 {
            html.raw("<input type=\"hidden\" name=\"per_page\"")
            html.attribute("value", String(query.perPage))
            html.raw(">")
        }
        html.raw("<button type=\"submit\">Filter</button>")
        if !query.filter.isEmpty { html.raw("<a href=\"/\">Clear</a>") }
        if adminAPI {
            html.raw(
                "<button type=\"button\" class=\"danger\" data-method=\"PUT\" data-path=\"/api/v1/admin/wipe\" data-confirm=\"Delete every group?\">Delete all groups</button>"
            )
        }
        html.raw("</form>\n")

        pager(&html, count: keys.count, page: page, pages: pages, first: shown.startIndex, end: shown.endIndex)
        if keys.isEmpty {
            html.raw("<p class=\"empty\">")
            html.raw(query.filter.isEmpty ? "No groups yet: push to /metrics/job/&lt;job&gt;." : "No group matches the filter.")
            html.raw("</p>\n")
        }
        for key in shown {
            guard let group = snapshot.groups[key] else { continue }
            self.group(&html, group, open: shown.count <= Self.openFamiliesUpTo)
        }
        if shown.count > 10 { pager(&html, count: keys.count, page: page, pages: pages, first: shown.startIndex, end: shown.endIndex) }
        if adminAPI {
            html.raw("<script>\n")
            html.raw(Self.script)
            html.raw("</script>\n")
        }
        html.raw("</body></html>\n")
        return html.bytes
    }

    private func pager(_ html: inout HTMLWriter, count: Int, page: Int, pages: Int, first: Int, end: Int) {
        html.raw("<nav class=\"pager\">")
        if count > 0 {
            html.raw("Groups ")
            html.number(first + 1)
            html.raw("–")
            html.number(end)
            html.raw(" of ")
            html.number(count)
        }
        if pages > 1 {
            html.raw(" · ")
            if page > 1 {
                html.raw("<a rel=\"prev\"")
                html.attribute("href", query.url(page: page - 1))
                html.raw(">‹ Previous</a> ")
            }
            html.raw("page ")
            html.number(page)
            html.raw(" of ")
            html.number(pages)
            if page < pages {
                html.raw(" <a rel=\"next\"")
                html.attribute("href", query.url(page: page + 1))
                html.raw(">Next ›</a>")
            }
        }
        html.raw("</nav>\n")
    }

    /// Pages showing this many groups or fewer list their families unfolded.
    static let openFamiliesUpTo = 5

    private func group(_ html: inout HTMLWriter, _ group: MetricStore.Group, open: Bool) {
        let failed = group.pushFailureTimeSeconds > group.pushTimeSeconds
        html.raw(failed ? "<section class=\"group failed\">" : "<section class=\"group\">")
        html.raw("<div class=\"head\"><span class=\"labels\">")
        if group.grouping.labels.isEmpty { html.raw("<span class=\"label\">(no labels)</span>") }
        for (name, value) in group.grouping.labels {
            html.raw("<span class=\"label\">")
            html.text(name)
            html.raw("=<b>")
            html.text(value)
            html.raw("</b></span>")
        }
        html.raw("</span>")
        if adminAPI {
            html.raw("<button type=\"button\" class=\"danger\" data-method=\"DELETE\"")
            html.attribute("data-path", group.grouping.path)
            html.raw(" data-confirm=\"Delete this group?\">Delete group</button>")
        }
        html.raw("</div>\n<div class=\"times\"><span>Last push: ")
        if group.pushTimeSeconds > 0 { time(&html, group.pushTimeSeconds) } else { html.raw("never") }
        html.raw("</span><span>Last failure: ")
        if group.pushFailureTimeSeconds > 0 {
            html.raw(failed ? "<b class=\"bad\">" : "<b>")
            time(&html, group.pushFailureTimeSeconds)
            html.raw("</b>")
        } else {
            html.raw("never")
        }
        html.raw("</span></div>\n")

        let names = group.state.families.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let seriesCount = group.state.seriesCount
        html.raw(open ? "<details open><summary>" : "<details><summary>")
        html.number(names.count)
        html.raw(names.count == 1 ? " family, " : " families, ")
        html.number(seriesCount)
        html.raw(" series</summary><table><colgroup><col class=\"family\"><col class=\"type\"><col class=\"series\"><col></colgroup>")
        html.raw("<thead><tr><th>Family</th><th>Type</th><th class=\"num\">Series</th><th>Help</th></tr></thead><tbody>")
        for name in names {
            let family = group.state.families[name]!
            html.raw("<tr><td class=\"name\">")
            html.text(name)
            html.raw("</td><td>")
            html.text(family.type.openMetricsName)
            html.raw("</td><td class=\"num\">")
            html.number(family.series.count)
            html.raw("</td><td>")
            html.text(family.help ?? "")
            html.raw("</td></tr>")
        }
        html.raw("</tbody></table></details></section>\n")
    }

    private func time(_ html: inout HTMLWriter, _ seconds: Double) {
        html.raw("<time")
        html.attribute("datetime", RFC3339Time.string(seconds.rounded(.down)))
        html.raw(">")
        html.text(RFC3339Time.string(seconds.rounded(.down), separator: " ", zone: " UTC"))
        html.raw("</time> (")
        html.text(Self.ago(now - seconds))
        html.raw(")")
    }

    /// `12 s ago`, `3 min ago`, `5 h ago`, `2 d ago`.
    static func ago(_ seconds: Double) -> String {
        let s = max(0, Int(seconds.rounded(.down)))
        switch s {
        case ..<120: return "\(s) s ago"
        case ..<7200: return "\(s / 60) min ago"
        case ..<172_800: return "\(s / 3600) h ago"
        default: return "\(s / 86400) d ago"
        }
    }

    static let css: StaticString = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
        header{background:#27364a;color:#fff;padding:12px 24px;display:flex;align-items:baseline;gap:16px;flex-wrap:wrap}
        header h1{font-size:18px;margin:0}header .meta{color:#c5cedb}header a{color:#9fd0ff}
        form.filter{display:flex;gap:8px;padding:14px 24px 0;align-items:center}
        form.filter input{flex:1;max-width:480px;padding:6px 8px;border:1px solid #b8c0cc;border-radius:4px;font:inherit}
        button{font:inherit;padding:5px 12px;border:1px solid #8a97a8;border-radius:4px;background:#fff;cursor:pointer}
        button.danger{border-color:#c0392b;color:#c0392b}form.filter button.danger{margin-left:auto}
        nav.pager{padding:10px 24px;color:#4a5568}nav.pager a{color:#1f6fd0}
        .group{background:#fff;margin:0 24px 10px;padding:10px 14px;border-radius:6px;border-left:4px solid #3c9a5f;box-shadow:0 1px 2px #0002}
        .group.failed{border-left-color:#c0392b}
        .head{display:flex;justify-content:space-between;align-items:center;gap:8px}
        .label{display:inline-block;background:#e8edf3;border-radius:3px;padding:1px 7px;margin:0 6px 2px 0;font-family:ui-monospace,monospace;font-size:13px}
        .times{color:#4a5568;display:flex;gap:24px;margin:4px 0}.bad{color:#c0392b}
        summary{cursor:pointer;color:#1f6fd0}table{border-collapse:collapse;margin-top:6px;width:100%;table-layout:fixed}
        col.family{width:38%}col.type{width:12%}col.series{width:8%}
        th,td{text-align:left;padding:3px 10px 3px 0;border-bottom:1px solid #edf0f4;vertical-align:top}
        td.name{font-family:ui-monospace,monospace;overflow-wrap:anywhere}.num{text-align:right;padding-right:24px}.empty{padding:0 24px;color:#4a5568}

        """

    /// Buttons carry their request in data attributes; one listener sends it, then reloads.
    static let script: StaticString = """
        document.addEventListener("click", async (event) => {
          const button = event.target.closest("button[data-method]");
          if (!button || !confirm(button.dataset.confirm)) return;
          const response = await fetch(button.dataset.path, { method: button.dataset.method });
          if (response.ok) location.reload();
          else alert(response.status + " " + (await response.text()));
        });

        """
}
