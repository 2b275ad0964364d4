#!/bin/bash
# What the broker healthcheck of docker-compose.yml calls, as in apache/kafka's /opt/kafka/bin.
exec java -Xmx128m -XX:TieredStopAtLevel=1 -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties \
  -cp '/opt/kafka/libs/*' kafka.admin.BrokerApiVersionsCommand "$@"
