"""Both GRAM training stages and the Bradley-Terry baseline: configs, examples, losses, trainers, runs."""
