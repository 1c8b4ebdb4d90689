"""Teaching with glome: exercises graded over seeds, nbgrader assignments, grading a class.

- ``exercises``: the exercise registry and ``grade_exercise`` (what the notebooks call);
- ``grading``: one node graded on challenges over seeds, with points and readable reasons;
- ``nbgrader``: ``glome classroom nbgrader DIR`` writes an nbgrader course;
- ``roster``: ``glome grade ROSTER`` grades every student's submissions in a sandbox;
- ``report``: grades.csv, report.html and one feedback file per student.
"""

from glome.classroom.exercises import EXERCISES, Exercise, grade_exercise
from glome.classroom.grading import NodeGrade, grade_node
from glome.sim.explain import failing_reasons  # a run's failures in plain words

__all__ = ["EXERCISES", "Exercise", "NodeGrade", "failing_reasons", "grade_exercise", "grade_node"]
