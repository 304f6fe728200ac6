"""One folder per Lambda, each deployable alone: its zip holds ``lambdas/<name>/`` (and this file), so the
handler is ``lambdas.<name>.handler.lambda_handler`` and its modules import each other relatively."""
