"""Keeps LocalStack's S3 object store in the run's own TMPDIR.

LocalStack stores S3 objects under a fixed /tmp/localstack-s3-storage whatever TMPDIR or FILESYSTEM_ROOT
say, so every run (and two suites running at once) would share it and leave it behind. The suite's
harness removes its private state directory when the test binary ends; this puts the S3 store in it.
"""

import os
import tempfile

from localstack.runtime import hooks


@hooks.on_infra_start()
def keep_s3_in_tmpdir():
    from localstack.services.s3 import provider

    provider.DEFAULT_S3_TMP_DIR = os.path.join(tempfile.gettempdir(), "localstack-s3-storage")
