"""Subject access: everything held about one child, in one archive (readable HTML plus
JSON), with third-party data marked for review and an anonymous referrer redacted."""
