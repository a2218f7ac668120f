"""ktmjax: multi-task knowledge transfer (KTM-DRL) for continuous control in JAX."""
__version__ = "0.1.0"
