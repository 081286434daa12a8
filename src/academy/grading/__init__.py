"""The instructor's grading engine: sandboxed autograding, feedback, reports, similarity."""
