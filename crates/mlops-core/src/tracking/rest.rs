//! MLflow REST client (being written).
