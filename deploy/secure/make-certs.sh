#!/bin/sh
# The files docker-compose.secure.yml mounts, made with openssl into deploy/secure/certs (or the directory given):
#   ca.pem                  a lab CA; the streamstash services trust it (kafka.security.ca_file)
#   broker.p12              the broker's key and certificate (names kafka, localhost, 127.0.0.1), PKCS#12
#   broker_keystore_creds   the password of broker.p12 (random), as the apache/kafka image reads it
#   kafka_server_jaas.conf  the broker's JAAS config: SCRAM users come from Kafka's own metadata
# Run it once before `docker compose -f docker-compose.yml -f docker-compose.secure.yml up`; run it again to
# replace everything. The CA's key stays in ca-key.pem: keep it, or delete it once the broker's certificate
# is made. For production use certificates from your own CA instead.
set -eu

dir=${1:-"$(dirname "$0")/certs"}
days=${CERT_DAYS:-825}
mkdir -p "$dir"
cd "$dir"

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days "$days" \
  -subj "/CN=streamstash lab CA" -keyout ca-key.pem -out ca.pem \
  -addext "basicConstraints=critical,CA:true,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kafka" \
  -keyout broker-key.pem -out broker.csr 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:false" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=DNS:kafka,DNS:localhost,IP:127.0.0.1" > broker.ext
openssl x509 -req -sha256 -days "$days" -in broker.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
  -extfile broker.ext -out broker.pem 2>/dev/null

openssl rand -hex 24 > broker_keystore_creds
openssl pkcs12 -export -name kafka -in broker.pem -inkey broker-key.pem -certfile ca.pem \
  -passout "file:broker_keystore_creds" -out broker.p12

printf '%s\n' "KafkaServer {" "  org.apache.kafka.common.security.scram.ScramLoginModule required;" "};" \
  > kafka_server_jaas.conf

rm -f broker.csr broker.ext ca.srl broker-key.pem
chmod 600 ca-key.pem
# The broker runs as another user in its container and must read these (the key is inside broker.p12, which
# needs the password next to it: protect the directory itself on a shared host).
chmod 644 ca.pem broker.pem broker.p12 broker_keystore_creds kafka_server_jaas.conf
echo "made $(pwd): ca.pem broker.p12 broker_keystore_creds kafka_server_jaas.conf"
