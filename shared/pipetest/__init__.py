"""`streamstash test`: a pipeline's test cases (and logstash-filter-verifier files) run in memory."""
