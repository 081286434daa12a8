"""nbgrader configuration for the academy: the one source of truth.

`academy assign ...` and `academy grade ...` read this file. To use nbgrader's own
commands or formgrader, run them with this file as config, e.g.
    cd grading && nbgrader generate_assignment 02-pandas-basics --force
or   jupyter lab --config=grading/nbgrader_config.py
"""
import os

c = get_config()  # noqa: F821 - provided by traitlets when the file is loaded

_GRADING = os.path.dirname(os.path.abspath(__file__))
COURSE_ROOT = os.environ.get("ACADEMY_COURSE_DIR") or os.path.join(os.path.dirname(_GRADING), "assignments")

c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.course_id = "busan-data-academy"
# Relative header paths are resolved against the working directory by nbgrader, so use an absolute one.
c.IncludeHeaderFooter.header = os.path.join(COURSE_ROOT, "source", "header.ipynb")
c.ClearSolutions.code_stub = {"python": "# 여기에 코드를 작성하세요 (YOUR CODE HERE)\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "여기에 답을 쓰세요 (YOUR ANSWER HERE)"
c.ExecutePreprocessor.timeout = 60
c.Execute.timeout = 60
