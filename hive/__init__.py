"""The batch pipeline: HQL files (the contract EMR runs) and the job that executes them."""
