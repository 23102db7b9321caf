#!/usr/bin/env node
// validate_manifests.mjs: CI check of deploy/kubernetes/ without a cluster.
//
// For every YAML document under the directory it
//   1. parses it the way kubectl does (YAML 1.1, duplicate keys rejected);
//   2. validates the object against the Kubernetes OpenAPI schema with the
//      npm package kubernetes-models (Kubernetes 1.34 API: native sidecars,
//      gRPC probes), and rejects fields the schema does not know (like
//      `kubectl apply --validate=strict`; the schema alone accepts typos such
//      as readOnlyRootFileSystem);
//   3. checks wxvault's deployment rules (DESIGN §4, issue 6): the wxvault
//      native sidecar (initContainers + restartPolicy: Always) reached over a
//      pod-internal socket, gRPC startup/liveness/readiness probes on the
//      --health_listen port, the hardened securityContext, resources,
//      terminationGracePeriodSeconds >= --shutdown_grace, a NetworkPolicy,
//      secrets mounted read-only as 0400 files, the vault on a
//      PersistentVolumeClaim, and no plaintext secret values except
//      placeholders marked REPLACE_ME in *.example.yaml files.
//
// Usage: node validate_manifests.mjs [--dir DIR] [--self-test]
//   --dir DIR    manifests directory (default: deploy/kubernetes of this repo)
//   --self-test  copies the manifests into a temp dir, breaks them one way at
//                a time (e.g. drops readOnlyRootFilesystem) and expects each
//                broken copy to fail with the matching problem
// Output: one line per problem; exit 0 when clean, 1 on any problem, 2 on
// bad usage.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

const SCRIPT_DIR = path.dirname(fileURLToPath(import.meta.url));
const NODE_MODULES = path.join(SCRIPT_DIR, "node_modules");
const DEFAULT_DIR = path.resolve(SCRIPT_DIR, "../../deploy/kubernetes");

const WXVAULT_UID = 65532;
const SECRET_FILE_MODE = 0o400;
const PLACEHOLDER = "REPLACE_ME";
const FLAG_DEFAULTS = { shutdown_grace: "10s", listen: "127.0.0.1:50051", data_dir: "./wxvault-data" };
// Egress the example pod may have: DNS and HTTPS to WeChat. An app that
// needs more (its database, ...) adds its ports here.
const ALLOWED_EGRESS_PORTS = new Set([53, 443]);

// ---------------------------------------------------------------- schema ----

const modelCache = new Map();
async function loadModel(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (!modelCache.has(key)) {
    const file = path.join(NODE_MODULES, "kubernetes-models", apiVersion, `${kind}.js`);
    let model = null;
    if (/^[\w.\-/]+$/.test(key) && fs.existsSync(file)) {
      const mod = await import(`kubernetes-models/${apiVersion}/${kind}`).catch(() => import(file));
      model = { Class: mod[kind], dts: file.replace(/\.js$/, ".d.ts") };
    }
    modelCache.set(key, model);
  }
  return modelCache.get(key);
}

// Field names per TypeScript interface of kubernetes-models' .d.ts files,
// for the unknown-field check. A type is {props: Map(name -> typeRef)} or
// null for a leaf (string, number, Quantity, IntOrString, ...).
const dtsCache = new Map();
function parseDts(file) {
  if (dtsCache.has(file)) return dtsCache.get(file);
  dtsCache.set(file, null);
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const imports = new Map();
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    for (const name of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      imports.set(name, m[2]);
    }
  }
  const head = text.match(/export interface \w+[^{]*\{/);
  if (!head) return null;  // a type alias: a leaf
  let i = head.index + head[0].length, depth = 1;
  const start = i;
  while (i < text.length && depth > 0) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}") depth--;
    i++;
  }
  const body = text.slice(start, i - 1);
  const props = new Map();
  let j = 0;
  const propRe = /"([^"]+)"\??\s*:\s*/y;
  while (j < body.length) {
    propRe.lastIndex = j;
    const m = propRe.exec(body);
    if (!m) { j++; continue; }
    let k = propRe.lastIndex, d = 0;
    while (k < body.length && !(d === 0 && body[k] === ";")) {
      if ("{<(".includes(body[k])) d++;
      else if ("}>)".includes(body[k])) d--;
      k++;
    }
    props.set(m[1], resolveType(body.slice(propRe.lastIndex, k).trim(), imports, path.dirname(file)));
    j = k + 1;
  }
  const result = { props };
  dtsCache.set(file, result);
  return result;
}
function resolveType(t, imports, dir) {
  let m;
  if ((m = t.match(/^Array<(.+)>$/s))) return { array: resolveType(m[1].trim(), imports, dir) };
  if ((m = t.match(/^\{\s*\[key: string\]:\s*(.+?);?\s*\}$/s))) return { map: resolveType(m[1].trim(), imports, dir) };
  if (imports.has(t)) {
    const spec = imports.get(t);
    const file = spec.startsWith(".")
      ? path.resolve(dir, spec.replace(/\.js$/, ".d.ts"))
      : path.join(NODE_MODULES, spec.replace(/\.js$/, "") + ".d.ts");
    return { file };
  }
  return null;
}
function unknownFields(value, typeRef, where, out) {
  if (!typeRef || value === null || typeof value !== "object") return;
  if (typeRef.array) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, typeRef.array, `${where}[${i}]`, out));
    return;
  }
  if (typeRef.map) {
    for (const [k, v] of Object.entries(value)) unknownFields(v, typeRef.map, `${where}.${k}`, out);
    return;
  }
  const type = parseDts(typeRef.file);
  if (!type || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (!type.props.has(k)) out.push(`${where}.${k}: unknown field (not in the Kubernetes API schema)`);
    else unknownFields(v, type.props.get(k), `${where}.${k}`, out);
  }
}

// ------------------------------------------------------------- loading ----

function listYamlFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listYamlFiles(p));
    else if (/\.ya?ml$/.test(entry.name)) out.push(p);
  }
  return out.sort();
}

function loadDocuments(dir, problems) {
  const docs = [];
  for (const file of listYamlFiles(dir)) {
    const rel = path.relative(dir, file);
    const text = fs.readFileSync(file, "utf8");
    const lineCounter = new YAML.LineCounter();
    const parsed = YAML.parseAllDocuments(text, { version: "1.1", uniqueKeys: true, lineCounter, prettyErrors: false });
    parsed.forEach((doc, index) => {
      for (const err of doc.errors) {
        const pos = err.pos ? lineCounter.linePos(err.pos[0]) : null;
        problems.push(`${rel}${pos ? `:${pos.line}` : ""}: YAML error: ${err.message.split("\n")[0]}`);
      }
      if (doc.errors.length > 0) return;
      const obj = doc.toJS({ maxAliasCount: 100 });
      if (obj === null || obj === undefined) return;
      docs.push({ file: rel, index, obj, where: `${rel}#${index + 1} ${obj.kind ?? "?"}${obj.metadata?.name ? `/${obj.metadata.name}` : ""}` });
    });
  }
  return docs;
}

// ---------------------------------------------------------- wxvault rules ----

function parseDurationSeconds(text) {
  // absl duration syntax: a sequence of <number><unit>, e.g. 10s, 1m30s, 1.5h.
  const units = { ns: 1e-9, us: 1e-6, "µs": 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  if (text === "0") return 0;
  let total = 0, pos = 0, m;
  while ((m = re.exec(text))) { total += parseFloat(m[1]) * units[m[2]]; pos = re.lastIndex; }
  return pos === text.length && pos > 0 ? total : NaN;
}

// Flags of a wxvault container: env WXVAULT_<FLAG>, overridden by args.
function wxvaultFlags(container, where, problems) {
  const flags = {};
  for (const e of container.env ?? []) {
    if (e.name?.startsWith("WXVAULT_") && typeof e.value === "string") flags[e.name.slice(8).toLowerCase()] = e.value;
  }
  const args = [...(container.command ?? []).slice(1), ...(container.args ?? [])];
  for (let i = 0; i < args.length; i++) {
    const a = String(args[i]);
    const m = a.match(/^--?([a-z_0-9]+)(?:=(.*))?$/s);
    if (!m) { problems.push(`${where}: argument '${a}' is not a --flag`); continue; }
    if (m[2] !== undefined) flags[m[1]] = m[2];
    else if (m[1] === "demo") flags.demo = "true";
    else if (i + 1 < args.length && !String(args[i + 1]).startsWith("--")) flags[m[1]] = String(args[++i]);
    else flags[m[1]] = "true";
  }
  return flags;
}

const isWxvault = (c) => c?.name === "wxvault" || /(^|\/)wxvault(:|@|$)/.test(c?.image ?? "");

function podSpecOf(obj) {
  switch (obj.kind) {
    case "Pod": return obj.spec;
    case "Deployment": case "StatefulSet": case "DaemonSet": case "ReplicaSet": case "Job":
      return obj.spec?.template?.spec;
    case "CronJob": return obj.spec?.jobTemplate?.spec?.template?.spec;
    default: return null;
  }
}

function mountFor(container, file) {
  // The volumeMount whose mountPath holds `file` (longest match).
  let best = null;
  for (const vm of container.volumeMounts ?? []) {
    const mp = vm.mountPath.replace(/\/+$/, "");
    if ((file === mp || file.startsWith(mp + "/")) && (!best || mp.length > best.mountPath.length)) best = vm;
  }
  return best;
}

function effective(container, pod, field) {
  const c = container.securityContext ?? {};
  const p = pod.securityContext ?? {};
  return c[field] !== undefined ? c[field] : p[field];
}

function checkSecurityContext(container, pod, where, problems) {
  const sc = container.securityContext ?? {};
  if (effective(container, pod, "runAsNonRoot") !== true) problems.push(`${where}: securityContext.runAsNonRoot must be true`);
  const uid = effective(container, pod, "runAsUser");
  if (uid === 0) problems.push(`${where}: securityContext.runAsUser must not be 0`);
  if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: securityContext.readOnlyRootFilesystem must be true`);
  if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: securityContext.allowPrivilegeEscalation must be false`);
  if (sc.privileged === true) problems.push(`${where}: securityContext.privileged must not be true`);
  const drop = sc.capabilities?.drop ?? [];
  if (!drop.includes("ALL")) problems.push(`${where}: securityContext.capabilities.drop must include ALL`);
  if ((sc.capabilities?.add ?? []).length > 0) problems.push(`${where}: securityContext.capabilities.add must be empty`);
  const seccomp = effective(container, pod, "seccompProfile");
  if (seccomp?.type !== "RuntimeDefault" && seccomp?.type !== "Localhost") {
    problems.push(`${where}: securityContext.seccompProfile.type must be RuntimeDefault`);
  }
  return uid;
}

function checkResources(container, where, problems) {
  const r = container.resources ?? {};
  for (const kind of ["requests", "limits"]) {
    for (const res of ["cpu", "memory"]) {
      if (r[kind]?.[res] === undefined) problems.push(`${where}: resources.${kind}.${res} is missing`);
    }
  }
  for (const res of ["cpu", "memory"]) {
    const req = quantity(r.requests?.[res]), lim = quantity(r.limits?.[res]);
    if (req !== null && lim !== null && req > lim) problems.push(`${where}: resources.requests.${res} exceeds resources.limits.${res}`);
  }
}
function quantity(q) {
  if (q === undefined || q === null) return null;
  const m = String(q).match(/^([0-9.]+)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/);
  if (!m) return null;
  const mult = { m: 1e-3, k: 1e3, Ki: 1024, M: 1e6, Mi: 1024 ** 2, G: 1e9, Gi: 1024 ** 3, T: 1e12, Ti: 1024 ** 4 };
  return parseFloat(m[1]) * (m[2] ? mult[m[2]] : 1);
}

function portOf(address) {
  const m = String(address ?? "").match(/:(\d+)$/);
  return m ? Number(m[1]) : null;
}

function checkWorkload(doc, all, problems) {
  const { obj, where } = doc;
  const pod = podSpecOf(obj);
  if (!pod) return false;
  const inits = pod.initContainers ?? [];
  const mains = pod.containers ?? [];
  const sidecar = inits.find(isWxvault);
  const misplaced = mains.find(isWxvault);
  if (misplaced) problems.push(`${where}: wxvault runs in containers[]; make it a native sidecar (an initContainers entry with restartPolicy: Always)`);
  if (!sidecar) return Boolean(misplaced);
  const w = `${where} initContainers[${sidecar.name}]`;
  if (sidecar.restartPolicy !== "Always") problems.push(`${w}: restartPolicy must be Always (a native sidecar, Kubernetes >= 1.29)`);

  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  const claims = new Set((obj.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name));
  const flags = { ...FLAG_DEFAULTS, ...wxvaultFlags(sidecar, w, problems) };
  if (flags.demo && flags.demo !== "false") problems.push(`${w}: --demo must not be used in a deployment`);

  // The vault on a PersistentVolumeClaim, in a StatefulSet.
  if (obj.kind !== "StatefulSet") problems.push(`${where}: the vault (embedded RocksDB, one writer) belongs in a StatefulSet, not a ${obj.kind}`);
  if (obj.kind === "StatefulSet" && (obj.spec.replicas ?? 1) !== 1) problems.push(`${where}: replicas must be 1 (each replica would hold a separate vault)`);
  if (obj.kind === "StatefulSet" && obj.spec.serviceName &&
      !all.some((d) => d.obj.kind === "Service" && d.obj.metadata?.name === obj.spec.serviceName && d.obj.spec?.clusterIP === "None")) {
    problems.push(`${where}: spec.serviceName ${obj.spec.serviceName} names no headless Service among the manifests`);
  }
  const dataMount = mountFor(sidecar, path.posix.resolve("/", flags.data_dir));
  const dataVolume = dataMount && (claims.has(dataMount.name) ? "claim" : volumes.get(dataMount.name));
  if (!flags.data_dir.startsWith("/")) problems.push(`${w}: --data_dir must be an absolute path on the vault's volume`);
  else if (dataVolume !== "claim" && !dataVolume?.persistentVolumeClaim) {
    problems.push(`${w}: --data_dir=${flags.data_dir} is not on a PersistentVolumeClaim (volumeClaimTemplates)`);
  }
  if (obj.kind === "StatefulSet" && !pod.securityContext?.fsGroup) {
    problems.push(`${where}: spec.template.spec.securityContext.fsGroup must be set so the non-root vault can write its PersistentVolumeClaim`);
  }

  // The gRPC API stays inside the pod: a Unix socket on a shared emptyDir,
  // or loopback TCP.
  const listen = flags.listen;
  const apps = mains.filter((c) => !isWxvault(c));
  if (listen.startsWith("unix:")) {
    const sock = listen.replace(/^unix:(\/\/)?/, "");
    const vm = mountFor(sidecar, sock);
    const vol = vm && volumes.get(vm.name);
    if (!vol?.emptyDir) problems.push(`${w}: --listen=${listen}: the socket must be in an emptyDir volume shared with the app`);
    else if (!apps.some((c) => (c.volumeMounts ?? []).some((m) => m.name === vm.name))) {
      problems.push(`${w}: no app container mounts volume '${vm.name}' holding the wxvault socket`);
    }
  } else if (!/^(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(listen)) {
    problems.push(`${w}: --listen=${listen} would expose the gRPC API outside the pod; use unix:/run/wxvault/wxvault.sock or 127.0.0.1:PORT`);
  }

  // gRPC probes on --health_listen.
  const healthPort = portOf(flags.health_listen);
  if (!flags.health_listen || healthPort === null) problems.push(`${w}: --health_listen=HOST:PORT must be set for the kubelet's gRPC probes`);
  for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
    const p = sidecar[probe];
    if (!p) { problems.push(`${w}: ${probe} is missing`); continue; }
    if (!p.grpc) problems.push(`${w}: ${probe} must be a grpc probe (grpc.health.v1 on --health_listen)`);
    else if (healthPort !== null && p.grpc.port !== healthPort) {
      problems.push(`${w}: ${probe}.grpc.port ${p.grpc.port} is not the --health_listen port ${healthPort}`);
    }
  }
  if (healthPort !== null && !(sidecar.ports ?? []).some((p) => p.containerPort === healthPort)) {
    problems.push(`${w}: ports[] does not declare the health port ${healthPort}`);
  }

  // Security context and resources of every container of the pod.
  const ps = pod.securityContext ?? {};
  if (ps.runAsNonRoot !== true) problems.push(`${where}: pod securityContext.runAsNonRoot must be true`);
  if (ps.seccompProfile?.type !== "RuntimeDefault") problems.push(`${where}: pod securityContext.seccompProfile.type must be RuntimeDefault`);
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push(`${where}: host namespaces must not be shared`);
  for (const [list, cs] of [["initContainers", inits], ["containers", mains]]) {
    for (const c of cs) {
      const cw = `${where} ${list}[${c.name}]`;
      const uid = checkSecurityContext(c, pod, cw, problems);
      if (c === sidecar && uid !== WXVAULT_UID) problems.push(`${cw}: securityContext.runAsUser must be ${WXVAULT_UID} (the image's wxvault user)`);
      if (c === sidecar || cs === mains) checkResources(c, cw, problems);
    }
  }

  // Drain: the pod's grace period covers --shutdown_grace.
  const grace = parseDurationSeconds(flags.shutdown_grace);
  const tgps = pod.terminationGracePeriodSeconds ?? 30;
  if (Number.isNaN(grace)) problems.push(`${w}: --shutdown_grace=${flags.shutdown_grace} is not a duration`);
  else if (tgps < grace) problems.push(`${where}: terminationGracePeriodSeconds ${tgps} is shorter than --shutdown_grace ${flags.shutdown_grace}`);

  // Secrets: files on read-only Secret volumes with mode 0400; the app
  // containers see neither the secrets nor the vault's data.
  const secretVolumes = new Set([...volumes.values()].filter((v) => v.secret || v.projected?.sources?.some((s) => s.secret)).map((v) => v.name));
  for (const v of volumes.values()) {
    if (v.secret) {
      const modes = [v.secret.defaultMode, ...(v.secret.items ?? []).map((i) => i.mode)].filter((m) => m !== undefined);
      if (v.secret.defaultMode === undefined) modes.push(0o644);
      for (const m of modes) {
        if (m !== SECRET_FILE_MODE) problems.push(`${where} volume ${v.name}: secret files must have mode 0400 (defaultMode: 256), not 0${m.toString(8)}`);
      }
    }
  }
  for (const c of [...inits, ...mains]) {
    for (const vm of c.volumeMounts ?? []) {
      if (secretVolumes.has(vm.name) && vm.readOnly !== true) problems.push(`${where} ${c.name}: secret volume '${vm.name}' must be mounted readOnly: true (read-only)`);
      if (!isWxvault(c) && (secretVolumes.has(vm.name) && isWxvaultSecretVolume(vm.name, sidecar) || claims.has(vm.name))) {
        problems.push(`${where} ${c.name}: mounts wxvault's volume '${vm.name}'; only the sidecar may see the vault's data and secrets`);
      }
    }
  }
  const fileFlags = ["master_key_file", "admin_token_file", "app_secret_file", "tls_key_file"];
  if (!flags.master_key_file) problems.push(`${w}: --master_key_file is required`);
  if (!flags.apps_file && !flags.app_secret_file) problems.push(`${w}: --apps_file or --app_id/--app_secret_file is required`);
  if (!flags.admin_token_file) problems.push(`${w}: --admin_token_file should be set: without it any process that can reach the socket may call VaultAdmin`);
  const secretPaths = fileFlags.filter((f) => flags[f]).map((f) => [`--${f}`, flags[f]]);
  if (flags.apps_file) {
    const vm = mountFor(sidecar, flags.apps_file);
    const vol = vm && volumes.get(vm.name);
    if (!vol) problems.push(`${w}: --apps_file=${flags.apps_file} is on no mounted volume`);
    else if (vol.configMap) {
      const cm = all.find((d) => d.obj.kind === "ConfigMap" && d.obj.metadata?.name === vol.configMap.name);
      const key = path.posix.basename(flags.apps_file);
      const item = (vol.configMap.items ?? []).find((i) => i.path === key);
      const text = cm?.obj.data?.[item ? item.key : key];
      if (!cm) problems.push(`${w}: ConfigMap ${vol.configMap.name} (for --apps_file) is not among the manifests`);
      else if (text === undefined) problems.push(`${w}: ConfigMap ${vol.configMap.name} has no key ${key} for --apps_file`);
      else {
        let apps = null;
        try { apps = YAML.parse(text); } catch (e) { problems.push(`${w}: ${vol.configMap.name}/${key} is not YAML: ${e.message.split("\n")[0]}`); }
        if (apps !== null && !Array.isArray(apps)) problems.push(`${w}: ${vol.configMap.name}/${key} must be a YAML list of {app_id, secret_file}`);
        for (const app of Array.isArray(apps) ? apps : []) {
          if (!app?.app_id || !app?.secret_file) problems.push(`${w}: ${vol.configMap.name}/${key}: each entry needs app_id and secret_file`);
          else secretPaths.push([`secret_file of ${app.app_id}`, path.posix.resolve(path.posix.dirname(flags.apps_file), app.secret_file)]);
        }
      }
    } else if (!secretVolumes.has(vm.name)) problems.push(`${w}: --apps_file must come from a ConfigMap or Secret volume`);
  }
  for (const [what, file] of secretPaths) {
    const vm = mountFor(sidecar, file);
    if (!vm || !secretVolumes.has(vm.name)) problems.push(`${w}: ${what}=${file} is not on a Secret volume`);
  }
  return true;

  function isWxvaultSecretVolume(name) {
    return (sidecar.volumeMounts ?? []).some((m) => m.name === name);
  }
}

function checkNetworkPolicy(workloads, docs, problems) {
  const policies = docs.filter((d) => d.obj.kind === "NetworkPolicy");
  for (const wl of workloads) {
    const labels = podTemplateLabels(wl.obj);
    const mine = policies.filter((p) => selects(p.obj.spec?.podSelector, labels));
    if (mine.length === 0) { problems.push(`${wl.where}: no NetworkPolicy selects this pod (keep the gRPC port in the pod, allow egress to WeChat only)`); continue; }
    // Without policyTypes the API server defaults to Ingress, plus Egress
    // when egress rules are present.
    const types = new Set(mine.flatMap((p) => p.obj.spec?.policyTypes ?? ["Ingress", ...(p.obj.spec?.egress ? ["Egress"] : [])]));
    for (const t of ["Ingress", "Egress"]) if (!types.has(t)) problems.push(`${mine[0].where}: policyTypes must include ${t}`);
    const pod = podSpecOf(wl.obj);
    const sidecar = (pod.initContainers ?? []).find(isWxvault);
    const flags = sidecar ? { ...FLAG_DEFAULTS, ...wxvaultFlags(sidecar, "", []) } : {};
    const healthPort = portOf(flags.health_listen);
    const declared = new Map();
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
      for (const p of c.ports ?? []) { declared.set(p.containerPort, p.containerPort); if (p.name) declared.set(p.name, p.containerPort); }
    }
    for (const p of mine) {
      (p.obj.spec?.ingress ?? []).forEach((rule, i) => {
        const rw = `${p.where} ingress[${i}]`;
        if (!rule.ports || rule.ports.length === 0) { problems.push(`${rw}: a rule without ports opens every port of the pod`); return; }
        for (const port of rule.ports) {
          const num = declared.get(port.port);
          if (num === undefined) problems.push(`${rw}: port ${port.port} is not a declared container port`);
          const grpcPort = portOf(flags.listen);
          if (num !== undefined && num === grpcPort && !flags.listen.startsWith("unix:")) problems.push(`${rw}: opens wxvault's gRPC port ${num}; it must stay inside the pod`);
          if (num !== undefined && num === healthPort) {
            const from = rule.from ?? [];
            if (from.length === 0 || !from.every((f) => f.ipBlock && f.ipBlock.cidr !== "0.0.0.0/0")) {
              problems.push(`${rw}: the health port ${num} may only be reached from the node CIDR (an ipBlock)`);
            }
          }
        }
      });
      (p.obj.spec?.egress ?? []).forEach((rule, i) => {
        const rw = `${p.where} egress[${i}]`;
        if (!rule.ports || rule.ports.length === 0) { problems.push(`${rw}: an egress rule without ports allows everything`); return; }
        for (const port of rule.ports) {
          if (!ALLOWED_EGRESS_PORTS.has(port.port)) problems.push(`${rw}: egress to port ${port.port}; only DNS (53) and HTTPS to WeChat (443) are expected`);
        }
      });
    }
    const egressPorts = new Set(mine.flatMap((p) => (p.obj.spec?.egress ?? []).flatMap((r) => (r.ports ?? []).map((x) => x.port))));
    if (types.has("Egress") && !egressPorts.has(443)) problems.push(`${mine[0].where}: egress must allow HTTPS (443) to WeChat (api.weixin.qq.com)`);
    if (types.has("Egress") && !egressPorts.has(53)) problems.push(`${mine[0].where}: egress must allow DNS (53)`);
  }
}
function podTemplateLabels(obj) {
  return obj.kind === "Pod" ? obj.metadata?.labels ?? {} : obj.spec?.template?.metadata?.labels ?? {};
}
function selects(selector, labels) {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

// Plaintext secrets: Secret objects only as examples with placeholders, and
// nothing that looks like key material anywhere.
const KEY_LINE = /(^|\n)\s*[A-Za-z0-9._-]{1,64}:[A-Za-z0-9+/]{43}=\s*($|\n)/;
const SECRETISH_NAME = /(secret|token|password|passwd|credential|api[_-]?key|private[_-]?key|master[_-]?key)/i;
function checkPlaintextSecrets(docs, problems) {
  for (const d of docs) {
    const example = /\.example\.ya?ml$/.test(d.file);
    if (d.obj.kind === "Secret") {
      if (!example) problems.push(`${d.where}: Secret objects with values belong in *.example.yaml (placeholders) or are created with kubectl, never committed with real values`);
      for (const [field, decode] of [["stringData", (v) => v], ["data", (v) => Buffer.from(String(v), "base64").toString("utf8")]]) {
        for (const [k, v] of Object.entries(d.obj[field] ?? {})) {
          if (!decode(v).includes(PLACEHOLDER)) problems.push(`${d.where}: ${field}.${k} holds a plaintext value; use a placeholder containing ${PLACEHOLDER}`);
        }
      }
    }
    walkStrings(d.obj, "", (where, s) => {
      if (KEY_LINE.test(s) || /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(s)) problems.push(`${d.where}${where}: looks like plaintext key material`);
    });
    const pod = podSpecOf(d.obj);
    for (const c of pod ? [...(pod.initContainers ?? []), ...(pod.containers ?? [])] : []) {
      for (const e of c.env ?? []) {
        if (SECRETISH_NAME.test(e.name) && typeof e.value === "string" && e.value !== "" && !e.value.includes(PLACEHOLDER) && !/_FILE$/.test(e.name)) {
          problems.push(`${d.where} ${c.name}: env ${e.name} carries a plaintext value; mount the secret as a file (or use valueFrom.secretKeyRef)`);
        }
      }
      for (const a of [...(c.command ?? []), ...(c.args ?? [])]) {
        const m = String(a).match(/^--?([a-z_]+)=(.+)$/);
        if (m && SECRETISH_NAME.test(m[1]) && !/_file$/.test(m[1]) && !m[2].includes(PLACEHOLDER)) {
          problems.push(`${d.where} ${c.name}: argument --${m[1]} carries a plaintext value; secrets come from files (--*_file)`);
        }
      }
    }
  }
}
function walkStrings(v, where, fn) {
  if (typeof v === "string") fn(where, v);
  else if (Array.isArray(v)) v.forEach((x, i) => walkStrings(x, `${where}[${i}]`, fn));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walkStrings(x, `${where}.${k}`, fn);
}

function checkKustomization(dir, docs, problems) {
  const k = docs.find((d) => d.obj.kind === "Kustomization");
  if (!k) { problems.push(`kustomization.yaml: missing (the manifests must apply with kubectl apply -k)`); return; }
  const resources = k.obj.resources ?? [];
  for (const r of resources) {
    if (!fs.existsSync(path.join(dir, path.dirname(k.file), r))) problems.push(`${k.where}: resource ${r} does not exist`);
  }
  const listed = new Set(resources.map((r) => path.normalize(path.join(path.dirname(k.file), r))));
  for (const file of new Set(docs.map((d) => d.file))) {
    if (file === k.file) continue;
    const example = /\.example\.ya?ml$/.test(file);
    if (example && listed.has(file)) problems.push(`${k.where}: ${file} is an example with placeholders and must not be a resource`);
    if (!example && !listed.has(file)) problems.push(`${k.where}: ${file} is not listed in resources`);
  }
  if ((k.obj.secretGenerator ?? []).some((g) => (g.literals ?? []).length > 0)) {
    problems.push(`${k.where}: secretGenerator literals put secret values in git; generate from files kept out of git`);
  }
}

// ---------------------------------------------------------------- driver ----

export async function validateDir(dir) {
  const problems = [];
  const docs = loadDocuments(dir, problems);
  for (const d of docs) {
    const { obj, where } = d;
    if (typeof obj !== "object" || Array.isArray(obj)) { problems.push(`${where}: not a Kubernetes object`); continue; }
    if (!obj.apiVersion || !obj.kind) { problems.push(`${where}: apiVersion and kind are required`); continue; }
    if (obj.apiVersion.startsWith("kustomize.config.k8s.io/")) continue;
    const model = await loadModel(obj.apiVersion, obj.kind);
    if (!model) { problems.push(`${where}: unknown apiVersion/kind ${obj.apiVersion} ${obj.kind}`); continue; }
    try {
      new model.Class(obj).validate();
    } catch (e) {
      // One line per offending path, with every reason the schema gave.
      const byPath = new Map();
      for (const err of e.errors ?? [{ instancePath: "", message: e.message }]) {
        if (err.keyword === "oneOf" || err.keyword === "anyOf") continue;
        const key = err.instancePath || "/";
        byPath.set(key, [...(byPath.get(key) ?? []), err.message]);
      }
      for (const [p, messages] of byPath) problems.push(`${where}: schema: ${p} ${[...new Set(messages)].join("; ")}`);
    }
    const unknown = [];
    unknownFields(obj, { file: model.dts }, "", unknown);
    for (const u of unknown) problems.push(`${where}: ${u.replace(/^\./, "")}`);
  }
  checkKustomization(dir, docs, problems);
  const workloads = docs.filter((d) => checkWorkload(d, docs, problems));
  if (workloads.length === 0) problems.push(`no workload runs the wxvault sidecar (an initContainers entry named wxvault)`);
  checkNetworkPolicy(workloads, docs, problems);
  checkPlaintextSecrets(docs, problems);
  return problems;
}

// Broken copies for --self-test: each mutates the parsed documents of one
// file and names a substring the resulting problem must contain.
const sidecarOf = (docs) => docs.find((d) => d.kind === "StatefulSet").spec.template.spec.initContainers.find(isWxvault);
const MUTATIONS = [
  ["readOnlyRootFilesystem dropped from the sidecar", "statefulset.yaml", (docs) => { delete sidecarOf(docs).securityContext.readOnlyRootFilesystem; }, "readOnlyRootFilesystem must be true"],
  ["sidecar restartPolicy dropped", "statefulset.yaml", (docs) => { delete sidecarOf(docs).restartPolicy; }, "restartPolicy must be Always"],
  ["liveness probe as tcpSocket", "statefulset.yaml", (docs) => { sidecarOf(docs).livenessProbe = { tcpSocket: { port: 8081 } }; }, "livenessProbe must be a grpc probe"],
  ["readiness probe on another port", "statefulset.yaml", (docs) => { sidecarOf(docs).readinessProbe.grpc.port = 9090; }, "readinessProbe.grpc.port 9090"],
  ["startup probe removed", "statefulset.yaml", (docs) => { delete sidecarOf(docs).startupProbe; }, "startupProbe is missing"],
  ["allowPrivilegeEscalation true", "statefulset.yaml", (docs) => { sidecarOf(docs).securityContext.allowPrivilegeEscalation = true; }, "allowPrivilegeEscalation must be false"],
  ["capabilities not dropped", "statefulset.yaml", (docs) => { delete sidecarOf(docs).securityContext.capabilities; }, "capabilities.drop must include ALL"],
  ["seccomp profile removed everywhere", "statefulset.yaml", (docs) => { const p = docs[0].spec.template.spec; delete p.securityContext.seccompProfile; for (const c of [...p.initContainers, ...p.containers]) delete c.securityContext.seccompProfile; }, "seccompProfile.type must be RuntimeDefault"],
  ["running as root", "statefulset.yaml", (docs) => { sidecarOf(docs).securityContext.runAsUser = 0; }, "runAsUser must not be 0"],
  ["memory limit removed", "statefulset.yaml", (docs) => { delete sidecarOf(docs).resources.limits.memory; }, "resources.limits.memory is missing"],
  ["grace period shorter than --shutdown_grace", "statefulset.yaml", (docs) => { docs[0].spec.template.spec.terminationGracePeriodSeconds = 5; }, "terminationGracePeriodSeconds 5 is shorter"],
  ["keyring mounted writable", "statefulset.yaml", (docs) => { sidecarOf(docs).volumeMounts.find((m) => m.name === "keyring").readOnly = false; }, "must be mounted readOnly: true"],
  ["secret files mode 0644", "statefulset.yaml", (docs) => { docs[0].spec.template.spec.volumes.find((v) => v.name === "keyring").secret.defaultMode = 0o644; }, "must have mode 0400"],
  ["gRPC API on the pod IP", "statefulset.yaml", (docs) => { const a = sidecarOf(docs).args; a[a.findIndex((x) => x.startsWith("--listen="))] = "--listen=0.0.0.0:50051"; }, "would expose the gRPC API outside the pod"],
  ["vault on an emptyDir", "statefulset.yaml", (docs) => { const a = sidecarOf(docs).args; a[a.findIndex((x) => x.startsWith("--data_dir="))] = "--data_dir=/tmp/vault"; }, "is not on a PersistentVolumeClaim"],
  ["app container mounts the keyring", "statefulset.yaml", (docs) => { docs[0].spec.template.spec.containers[0].volumeMounts.push({ name: "keyring", mountPath: "/keys", readOnly: true }); }, "only the sidecar may see"],
  ["wxvault as a plain container", "statefulset.yaml", (docs) => { const p = docs[0].spec.template.spec; const s = sidecarOf(docs); p.initContainers = p.initContainers.filter((c) => c !== s); delete s.restartPolicy; p.containers.push(s); }, "make it a native sidecar"],
  ["typo readOnlyRootFileSystem", "statefulset.yaml", (docs) => { const sc = sidecarOf(docs).securityContext; delete sc.readOnlyRootFilesystem; sc.readOnlyRootFileSystem = true; }, "readOnlyRootFileSystem: unknown field"],
  ["schema: memory not a quantity", "statefulset.yaml", (docs) => { sidecarOf(docs).resources.requests.memory = "lots"; }, "schema: /spec/template/spec/initContainers/0/resources/requests/memory"],
  ["NetworkPolicy removed", "networkpolicy.yaml", () => [], "no NetworkPolicy selects this pod"],
  ["egress opened to port 80", "networkpolicy.yaml", (docs) => { docs[0].spec.egress.push({ ports: [{ port: 80, protocol: "TCP" }] }); }, "egress to port 80"],
  ["health port open to all", "networkpolicy.yaml", (docs) => { delete docs[0].spec.ingress.find((r) => r.ports.some((p) => p.port === 8081)).from; }, "may only be reached from the node CIDR"],
  ["real value in the example Secret", "secrets.example.yaml", (docs) => { docs[0].stringData.keyring = "k1:" + Buffer.alloc(32, 7).toString("base64") + "\n"; }, "holds a plaintext value"],
  ["plaintext secret in env", "statefulset.yaml", (docs) => { docs[0].spec.template.spec.containers[0].env.push({ name: "WECHAT_APP_SECRET", value: "0123456789abcdef" }); }, "carries a plaintext value"],
  ["governing Service not headless", "service.yaml", (docs) => { delete docs[0].spec.clusterIP; }, "names no headless Service"],
  ["example Secret listed as a resource", "kustomization.yaml", (docs) => { docs[0].resources.push("secrets.example.yaml"); }, "must not be a resource"],
];

async function selfTest(dir) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "wxvault-manifests-"));
  let failures = 0;
  try {
    const copy = (into) => fs.cpSync(dir, into, { recursive: true });
    const base = path.join(tmp, "base");
    copy(base);
    const baseProblems = await validateDir(base);
    if (baseProblems.length > 0) {
      console.log(`self-test FAIL: the unmodified manifests already fail:`);
      for (const p of baseProblems) console.log(`  ${p}`);
      return 1;
    }
    let n = 0;
    for (const [name, file, mutate, expect] of MUTATIONS) {
      const into = path.join(tmp, `m${++n}`);
      copy(into);
      const target = path.join(into, file);
      const docs = YAML.parseAllDocuments(fs.readFileSync(target, "utf8"), { version: "1.1" }).map((d) => d.toJS()).filter((d) => d != null);
      const result = mutate(docs);
      const out = result === undefined ? docs : result;
      if (out.length === 0) fs.rmSync(target);
      else fs.writeFileSync(target, out.map((d) => YAML.stringify(d, { version: "1.1" })).join("---\n"));
      const problems = await validateDir(into);
      const hit = problems.find((p) => p.includes(expect));
      if (hit) console.log(`self-test ok: ${name}: ${hit}`);
      else {
        failures++;
        console.log(`self-test FAIL: ${name}: expected a problem containing "${expect}", got ${problems.length ? problems.join(" | ") : "none"}`);
      }
    }
    console.log(failures === 0
      ? `self-test: all ${MUTATIONS.length} broken copies were rejected`
      : `self-test: ${failures} of ${MUTATIONS.length} broken copies were NOT rejected`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return failures === 0 ? 0 : 1;
}

async function main(argv) {
  let dir = DEFAULT_DIR, self = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--dir" && i + 1 < argv.length) dir = path.resolve(argv[++i]);
    else if (argv[i].startsWith("--dir=")) dir = path.resolve(argv[i].slice(6));
    else if (argv[i] === "--self-test") self = true;
    else { console.error("usage: node validate_manifests.mjs [--dir DIR] [--self-test]"); return 2; }
  }
  if (!fs.existsSync(dir)) { console.error(`validate_manifests: no directory ${dir}`); return 2; }
  if (self) return selfTest(dir);
  const problems = await validateDir(dir);
  for (const p of problems) console.log(`validate_manifests: FAIL ${p}`);
  const n = new Set(loadDocuments(dir, []).map((d) => d.where)).size;
  console.log(problems.length === 0
    ? `validate_manifests: OK: ${n} documents in ${path.relative(process.cwd(), dir) || "."}`
    : `validate_manifests: ${problems.length} problem(s)`);
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
