import sys

from conformance.clients.kafkajs import main

sys.exit(main())
