import sys

from conformance.clients.java import main

sys.exit(main())
