"""The one compiled module; everything else about the package is in pyproject.toml.

analysis._cedn is the EDN reader's compiled half (analysis/_cedn.c), 4-5x the pure-Python
reader on history files. It is optional: without a C compiler the install goes on and
analysis.edn reads in pure Python (then tests/test_analysis_edn_reader.py fails, unless
GLOME_EDN_PURE_OK=1 says that is meant).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("analysis._cedn", ["analysis/_cedn.c"], optional=True)])
