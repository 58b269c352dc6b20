# The release phase: fails when FAIL_RELEASE is set, so tests can check
# that a failed release phase never goes live.
import os, sys
print("release phase ran for", os.environ.get("HEROKU_RELEASE_VERSION"), flush=True)
if os.environ.get("FAIL_RELEASE"):
    print("release phase failing on purpose", flush=True)
    sys.exit(7)
