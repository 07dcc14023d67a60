-- The Prefect server's database, beside MLflow's (POSTGRES_DB); both owned by POSTGRES_USER.
CREATE DATABASE prefect OWNER mlops;
