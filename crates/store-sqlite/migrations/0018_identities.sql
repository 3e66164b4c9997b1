-- Single sign-on: which account at an identity provider is which person here, and the
-- sign-ins under way (state hash, nonce and PKCE verifier, for ten minutes, spent once).
-- Twin of the migration with the same name in the other adapter; keep them in step.
CREATE TABLE identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    person_id TEXT NOT NULL REFERENCES people (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
-- One account per provider and person: a second one claiming the same email is refused.
CREATE UNIQUE INDEX identities_person ON identities (issuer, person_id);

CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);
