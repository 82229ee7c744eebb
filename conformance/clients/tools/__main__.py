import sys

from conformance.clients.tools import main

sys.exit(main())
