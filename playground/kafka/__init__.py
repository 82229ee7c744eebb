"""The Kafka wire protocol: real clients (kafka-python, aiokafka, librdkafka, kcat) talking to a
room's simulated brokers. codec.py is the only module that imports kafka-python."""
