import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ktmjax.runs import enable_compilation_cache  # noqa: E402

enable_compilation_cache()
