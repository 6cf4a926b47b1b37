"""The local stack: a Kafka broker process provisioned from Maven Central, no Docker."""
