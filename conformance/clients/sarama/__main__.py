import sys

from conformance.clients import gobuild

sys.exit(gobuild.main("sarama"))
