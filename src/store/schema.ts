/**
 * The database schema as an ordered list of migrations; `PRAGMA user_version` records how many
 * have run. Append new migrations, never edit old ones: stores in the field were made by them.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE images (
    id TEXT PRIMARY KEY,            -- sha256:<hex> of the image config blob
    manifest_digest TEXT NOT NULL,  -- sha256:<hex> of the OCI manifest blob
    created TEXT NOT NULL,          -- RFC 3339, from the image config
    size INTEGER NOT NULL,          -- bytes of all unpacked layers
    layers TEXT NOT NULL            -- JSON array of chain IDs, base layer first
  );
  CREATE TABLE tags (
    reference TEXT PRIMARY KEY,     -- normalized: docker.io/library/busybox:latest
    image_id TEXT NOT NULL REFERENCES images(id)
  );
  CREATE INDEX tags_image ON tags(image_id);
  CREATE TABLE layers (
    chain_id TEXT PRIMARY KEY,      -- sha256:<hex>; the directory layers/<hex>
    diff_id TEXT NOT NULL,          -- sha256 of the uncompressed tar
    parent TEXT,                    -- chain ID of the layer below, NULL for a base layer
    size INTEGER NOT NULL           -- bytes unpacked
  );
  CREATE TABLE containers (
    id TEXT PRIMARY KEY,            -- 64 hex
    name TEXT NOT NULL UNIQUE,
    image_id TEXT NOT NULL,
    image_ref TEXT NOT NULL,        -- the image as the user named it
    created TEXT NOT NULL,
    config TEXT NOT NULL,           -- JSON: the ContainerConfig it was created from
    status TEXT NOT NULL,           -- created | running | exited | dead
    pid INTEGER,
    exit_code INTEGER,
    oom_killed INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    started_at TEXT,
    finished_at TEXT
  );
  `,
  `
  ALTER TABLE containers ADD COLUMN shim_pid INTEGER;       -- the monitor of a running container
  ALTER TABLE containers ADD COLUMN shim_start INTEGER;     -- its /proc/PID/stat start time: the PID's identity
  ALTER TABLE containers ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE containers ADD COLUMN stop_requested INTEGER NOT NULL DEFAULT 0; -- stop/kill by a user: no restart
  `,
  `
  ALTER TABLE containers ADD COLUMN run_id TEXT; -- the current run: its exit command names it
  `,
  `
  CREATE TABLE repo_digests (
    repository TEXT NOT NULL,       -- normalized: docker.io/library/busybox
    digest TEXT NOT NULL,           -- sha256:<hex> of the manifest as that registry serves it
    image_id TEXT NOT NULL REFERENCES images(id),
    PRIMARY KEY (repository, digest)
  );
  CREATE INDEX repo_digests_image ON repo_digests(image_id);
  `,
  `
  CREATE TABLE networks (
    id TEXT PRIMARY KEY,              -- 64 hex
    name TEXT NOT NULL UNIQUE,
    driver TEXT NOT NULL,             -- bridge
    bridge TEXT NOT NULL UNIQUE,      -- the Linux bridge device
    subnet TEXT NOT NULL,             -- CIDR, e.g. 10.89.0.0/16
    gateway TEXT NOT NULL,            -- address on the bridge
    ip_range TEXT,                    -- CIDR inside subnet that IPAM draws from, or NULL
    internal INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL
  );
  CREATE TABLE endpoints (
    network_id TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    mac TEXT NOT NULL,
    host_veth TEXT NOT NULL UNIQUE,   -- the host end of the container's veth pair
    aliases TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (network_id, container_id),
    UNIQUE (network_id, ip)
  );
  CREATE INDEX endpoints_container ON endpoints(container_id);
  `,
  `
  CREATE TABLE port_bindings (
    container_id TEXT NOT NULL,     -- the container whose start published it
    protocol TEXT NOT NULL,         -- tcp | udp
    host_port INTEGER NOT NULL,
    host_ip TEXT NOT NULL,          -- '' for every address
    PRIMARY KEY (protocol, host_port) -- one container per host port: no two DNATs for one port
  );
  CREATE INDEX port_bindings_container ON port_bindings(container_id);
  `,
  `
  CREATE TABLE build_cache (
    key TEXT PRIMARY KEY,           -- sha256 of the state before a build step and of the step
    config TEXT NOT NULL,           -- the image config after the step (JSON)
    layers TEXT NOT NULL,           -- JSON array of the layers after the step (StoredLayer)
    created TEXT NOT NULL,          -- RFC 3339, when the step ran
    last_used TEXT NOT NULL         -- RFC 3339, when a build last used the entry
  );
  `,
];
