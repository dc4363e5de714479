#!/bin/sh
# One-shot (the kibana-setup service): load the data views, visualizations and dashboard into Kibana.
# Importing with overwrite=true is idempotent, so the service can run on every `docker compose up`.
set -eu
KIBANA_URL="${KIBANA_URL:-http://kibana:5601}"
OBJECTS="${OBJECTS:-/kibana/saved_objects.ndjson}"
attempt=1
while :; do
  # Kibana answers /api/status before its saved-objects service is ready; retry the import itself.
  if response=$(curl -sS -X POST "$KIBANA_URL/api/saved_objects/_import?overwrite=true" \
        -H "kbn-xsrf: streamstash" --form "file=@$OBJECTS") \
     && printf '%s' "$response" | grep -q '"success":true'; then
    echo "kibana-setup: saved objects imported: $response"
    exit 0
  fi
  if [ "$attempt" -ge 30 ]; then
    echo "kibana-setup: import failed after $attempt attempts: ${response:-no answer}" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 5
done
