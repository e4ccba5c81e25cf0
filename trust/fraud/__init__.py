"""Fraud risk for listings, accounts and chat messages (DESIGN.md "Fraud", issue 8).

Modules:
  signals    normalisation that folds obfuscation away; rule detectors
  generator  labelled listings and chat snippets (English, Chinese)
  features   records -> text + numeric features (price vs median, seller, signals)
  model      the scikit-learn pipelines, training, held-out metrics, files, reasons
  data       validating fraud_score lines; importing labelled data
  scoring    score_listing, score_account, score_message (database objects)
  checks     the publish check and chat message check registered at start-up
  bench      tests/load/bench_fraud.py: latency p50/p95 and throughput

Start-up only imports `checks` and `signals`; scikit-learn and the model are
loaded on the first score, so `manage.py` commands stay quick.
"""
