"""The pipeline's steps as functions of the validated `Params` and explicit paths, one module per kind of stage
(training, searching, evaluating), so each notebook imports only the code its stage runs and DVC reruns a stage
exactly when that code changes. Nothing here reads params.yaml behind the caller's back."""
