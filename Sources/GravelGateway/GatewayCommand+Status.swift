extension GatewayCommand {
    /// Every option with its value as `GET /api/v1/status` reports it under `flags`
    /// (the Pushgateway lists all of its flags there). A test checks that no option of
    /// the command is missing from this list.
    var statusFlags: [(String, String)] {
        [
            ("listen", listen),
            ("max-body-bytes", String(maxBodyBytes)),
            ("max-series", String(maxSeries)),
            ("max-groups", String(maxGroups)),
            ("enable-openmetrics", String(enableOpenmetrics)),
            ("push.enable-utf8-names", String(enableUTF8Names)),
            ("max-labels-per-series", String(maxLabelsPerSeries)),
            ("max-label-name-bytes", String(maxLabelNameBytes)),
            ("max-label-value-bytes", String(maxLabelValueBytes)),
            ("max-buckets", String(maxBuckets)),
            ("max-quantiles", String(maxQuantiles)),
            ("basic-auth-file", basicAuthFile ?? ""),
            ("protect-scrape", String(protectScrape)),
            ("tls-cert", tlsCert ?? ""),
            ("tls-key", tlsKey ?? ""),
            ("series-ttl", seriesTtl ?? ""),
            ("read-timeout", readTimeout),
            ("write-timeout", writeTimeout),
            ("max-connections", String(maxConnections)),
            ("web.enable-admin-api", String(enableAdminAPI)),
            ("data-dir", dataDir ?? ""),
            ("snapshot-interval", snapshotInterval),
            ("idempotency-window", idempotencyWindow),
            ("wal-accept-corruption", String(walAcceptCorruption)),
            ("log-level", logLevel),
            ("version", String(printVersion)),
        ]
    }
}
