"""gram: generative foundation reward models (GRAM, Wang et al., ICML 2025).

    from gram import load_judge
    load_judge("smollm2-135m").compare("What is 2+2?", "4", "5").score_a

The package follows the data flow: `formats/` read sources into `records`, `data/` builds training pairs,
`templates` renders prompts, `model/` loads and runs causal LMs, `scoring/` judges pairs and lists, `eval/` runs
benchmarks, `train/` runs both GRAM stages, `rlhf` and `serve/` put the judge to use, `cli/` is the
`gram` command. Names below are imported on first use, so `import gram` stays light.
"""

from .lazy import lazy_exports

__version__ = "0.2.0"
_EXPORTS = {
    "DEFAULT_MODEL": "gram.model.backbone", "load": "gram.model.backbone",
    "Pair": "gram.records",
    "Judge": "gram.scoring", "PairScore": "gram.scoring", "RewardModelJudge": "gram.scoring",
    "Scorer": "gram.scoring", "load_judge": "gram.scoring", "rank": "gram.scoring",
    "GramError": "gram.errors",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
