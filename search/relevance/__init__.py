"""A judged relevance test set for search and the nDCG@10 evaluation.

`corpus.json` holds a fixed set of listings, `judgments.json` the queries
(with their filter parameters) and graded relevance 0-3 for the corpus items;
`evaluate.py` loads the corpus, indexes it and scores the engine.
"""
