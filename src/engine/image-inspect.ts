import { dirname, join } from 'node:path';
import type { ImageRecord } from '../image/image-store.js';
import { familiarString, parseNormalized, parseReference } from '../image/reference.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Fields of a Docker-built config that the OCI type does not name. */
interface DockerConfigExtras {
  comment?: string;
  docker_version?: string;
}

/**
 * `docker image inspect`: Docker's JSON shape (API 1.4x), filled from the record and its config.
 * GraphDriver names the overlay2 paths as Docker lays them out beside the top layer's `diff`.
 * LastTagTime is not recorded here, so it is Go's zero time (as Docker shows for a pulled image).
 */
export function inspectImage(image: ImageRecord): Record<string, unknown> {
  const { config } = image;
  const run = config.config ?? {};
  const extras = config as DockerConfigExtras;
  const top = image.layerDirs.at(-1);
  const lower = image.layerDirs.slice(0, -1).reverse();
  return {
    Id: image.id,
    RepoTags: image.references.map((ref) => familiarString(parseReference(ref))),
    RepoDigests: image.repoDigests.map((ref) => familiarString(parseNormalized(ref))),
    Parent: '',
    Comment: extras.comment ?? '',
    Created: config.created ?? image.created,
    DockerVersion: extras.docker_version ?? '',
    Author: config.author ?? '',
    Config: {
      Hostname: '',
      Domainname: '',
      User: run.User ?? '',
      ...(run.Healthcheck ? { Healthcheck: run.Healthcheck } : {}),
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ...(run.ExposedPorts ? { ExposedPorts: run.ExposedPorts } : {}),
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: run.Env ?? null,
      Cmd: run.Cmd ?? null,
      Image: '',
      Volumes: run.Volumes ?? null,
      WorkingDir: run.WorkingDir ?? '',
      Entrypoint: run.Entrypoint ?? null,
      OnBuild: run.OnBuild ?? null,
      Labels: run.Labels ?? null,
      ...(run.StopSignal ? { StopSignal: run.StopSignal } : {}),
      ...(run.Shell ? { Shell: run.Shell } : {}),
    },
    Architecture: config.architecture,
    ...(config.variant ? { Variant: config.variant } : {}),
    Os: config.os,
    Size: image.size,
    GraphDriver: {
      Data:
        top === undefined
          ? null
          : {
              ...(lower.length > 0 ? { LowerDir: lower.join(':') } : {}),
              MergedDir: join(dirname(top), 'merged'),
              UpperDir: top,
              WorkDir: join(dirname(top), 'work'),
            },
      Name: 'overlay2',
    },
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Metadata: { LastTagTime: ZERO_TIME },
  };
}
