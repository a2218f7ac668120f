"""Scripts that print figures: run them from the repository root as `python -m bench.NAME`
(or `python bench/NAME.py` for those that import the installed ktmjax alone)."""
