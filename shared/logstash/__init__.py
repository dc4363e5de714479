"""Coming from Logstash: translate a `logstash.conf` into a streamstash pipeline file.

`parser` reads Logstash's configuration language into `ast` (lark, grammar in `logstash.lark`);
`translator` turns it into our pipeline (filters as guarded steps, `aggregate` through the idioms of
`aggregate`); `emit` writes it as YAML with comments; `report` lists what could not be translated, each
with file, line and the source text; `command` is `streamstash import-logstash`.
"""
