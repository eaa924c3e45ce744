"""Kubernetes' grammars for the strings lakeplan copies into Argo manifests, checked where they are declared.

Each function returns what is wrong with a value (the rule, and an example of a good one), or None; the
caller names the setting. The rules are Kubernetes' own, cited per function, so a value that passes here is
not refused by the apiserver or the kubelet later. ``template_problem`` adds Argo's: a ``{{`` anywhere in a
template is a substitution (argo-workflows workflow/common/util.go: SubstituteParams marshals the whole
template to JSON and util/template/template.go replaces every ``{{...}}`` tag, failing with "failed to
resolve {{...}}" for an unknown one), so a user's string holding one would change the manifest or break it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# k8s.io/apimachinery pkg/api/resource/quantity.go: the <quantity> grammar in Quantity's doc comment, as
# parseQuantityString scans it (splitREString is its looser summary); suffix.go newSuffixer lists the
# suffixes, and suffixHandler.interpret takes "e"/"E" plus a signed integer as an exponent.
_QUANTITY = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")
QUANTITY_RULE = (
    "a number with an optional suffix Ki Mi Gi Ti Pi Ei (powers of 2), n u m k M G T P E (powers of 10) or "
    "an exponent like e3, e.g. '500m' or '2Gi' (Kubernetes resource.Quantity)"
)

# github.com/distribution/reference regexp.go: ReferenceRegexp = anchored(capture(namePat),
# optional(':', capture(tag)), optional('@', capture(digestPat))), built from these parts; reference.go:
# RepositoryNameTotalLengthMax = 255. The kubelet parses image names with it and leaves a pod it cannot
# parse in InvalidImageName.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[(?:[a-fA-F0-9:]+)\])"
_NAME = rf"(?:{_HOST}(?::[0-9]+)?/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # Go's \w is ASCII
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?")
IMAGE_NAME_LIMIT = 255

# k8s.io/apimachinery pkg/util/validation/validation.go: IsDNS1123Label, IsDNS1123Subdomain, IsEnvVarName,
# IsConfigMapKey (and hasChDirPrefix); pkg/api/validate/content/kube.go: IsLabelKey (a qualified name),
# IsLabelValue.
_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS_LABEL_RE = re.compile(_DNS_LABEL)
_DNS_SUBDOMAIN_RE = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")
_LABEL_NAME = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
DNS_LABEL_LIMIT = 63
DNS_SUBDOMAIN_LIMIT = 253
LABEL_LIMIT = 63

# kubernetes pkg/apis/core/validation/validation.go: ValidateTolerations (and validateTaintEffect).
TOLERATION_FIELDS = ("key", "operator", "value", "effect", "tolerationSeconds")
TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def template_problem(value: str) -> str | None:
    """A ``{{`` that Argo would take for a template tag."""
    if "{{" in value:
        return "holds '{{', which Argo substitutes as a template tag ({{...}}); remove the braces"
    return None


def quantity_problem(value: str) -> str | None:
    """Not a non-negative Kubernetes quantity (a container's requests and limits must not be negative:
    kubernetes pkg/apis/core/validation/validation.go, ValidateResourceQuantityValue)."""
    if not _QUANTITY.fullmatch(value):
        return f"is not {QUANTITY_RULE}"
    if value.startswith("-"):
        return "is negative; a resource amount must be >= 0, e.g. '500m' or '2Gi'"
    return None


def image_problem(value: str) -> str | None:
    """Not an image reference ``[host[:port]/]path[:tag][@digest]`` as the kubelet parses it."""
    match = _REFERENCE.fullmatch(value)
    if match is None:
        return (
            "is not an image reference: [registry[:port]/]lowercase/path[:tag][@sha256:digest], "
            "e.g. 'registry.example.com/team/project:1.4' (github.com/distribution/reference)"
        )
    if len(match.group("name")) > IMAGE_NAME_LIMIT:
        return f"has a repository name over {IMAGE_NAME_LIMIT} characters"
    return None


def dns_label_problem(value: str, limit: int = DNS_LABEL_LIMIT) -> str | None:
    """Not a DNS-1123 label (namespaces, and names Argo extends with a suffix)."""
    if not _DNS_LABEL_RE.fullmatch(value) or len(value) > limit:
        return (
            f"is not a Kubernetes name: at most {limit} lowercase letters, digits and '-', starting and "
            "ending with a letter or digit, e.g. 'my-project'"
        )
    return None


def dns_subdomain_problem(value: str) -> str | None:
    """Not a DNS-1123 subdomain (names of Secrets, PersistentVolumeClaims, ServiceAccounts)."""
    if not _DNS_SUBDOMAIN_RE.fullmatch(value) or len(value) > DNS_SUBDOMAIN_LIMIT:
        return (
            f"is not a Kubernetes object name: at most {DNS_SUBDOMAIN_LIMIT} lowercase letters, digits, '-' "
            "and '.', starting and ending with a letter or digit, e.g. 'lakeplan-storage'"
        )
    return None


def label_key_problem(value: str) -> str | None:
    """Not a label key: an optional DNS subdomain prefix and ``/``, then a name of at most 63 characters."""
    prefix, slash, name = value.rpartition("/")
    if slash and (not prefix or dns_subdomain_problem(prefix) or "/" in prefix):
        return "has a prefix that is not a DNS subdomain; write 'example.com/name' or just 'name'"
    if not _LABEL_NAME.fullmatch(name) or len(name) > LABEL_LIMIT:
        return (
            f"is not a label key: an optional 'example.com/' prefix, then at most {LABEL_LIMIT} letters, "
            "digits, '-', '_' or '.', starting and ending with a letter or digit, e.g. 'cloud.google.com/gke-nodepool'"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Not a label value: empty, or at most 63 characters of a label name."""
    if value and (not _LABEL_NAME.fullmatch(value) or len(value) > LABEL_LIMIT):
        return (
            f"is not a label value: empty, or at most {LABEL_LIMIT} letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit, e.g. 'gpu-a100'"
        )
    return None


def _chdir_problem(value: str) -> str | None:
    """validation.go hasChDirPrefix: '.', '..' and a leading '..' are refused in env and key names."""
    return "must not be '.' or start with '..'" if value == "." or value.startswith("..") else None


def env_name_problem(value: str) -> str | None:
    """Not an environment variable name Kubernetes accepts."""
    if not _ENV_VAR_NAME.fullmatch(value):
        return "is not an environment variable name: letters, digits, '_', '-' or '.', not starting with a digit"
    return _chdir_problem(value)


def secret_key_problem(value: str) -> str | None:
    """Not a key of a Secret (or ConfigMap)."""
    if not _SECRET_KEY.fullmatch(value) or len(value) > DNS_SUBDOMAIN_LIMIT:
        return f"is not a Secret key: at most {DNS_SUBDOMAIN_LIMIT} letters, digits, '-', '_' or '.'"
    return _chdir_problem(value)


def toleration_problem(toleration: Mapping[str, object]) -> str | None:
    """A toleration Kubernetes refuses: unknown fields, a bad key or value, an operator other than Equal or
    Exists, a value with Exists, no key without Exists, an unknown effect, tolerationSeconds without NoExecute."""
    unknown = sorted(set(toleration) - set(TOLERATION_FIELDS))
    if unknown:
        return f"has unknown field {unknown[0]!r}; a toleration has {', '.join(TOLERATION_FIELDS)}"
    strings = {k: v for k, v in toleration.items() if k != "tolerationSeconds"}
    if not all(isinstance(v, str) for v in strings.values()):
        return "must have string key, operator, value and effect"
    key, operator = str(strings.get("key", "")), str(strings.get("operator", "") or "Equal")
    value, effect = str(strings.get("value", "")), str(strings.get("effect", ""))
    seconds = toleration.get("tolerationSeconds")
    if key and label_key_problem(key):
        return f"key {key!r} {label_key_problem(key)}"
    if operator not in TOLERATION_OPERATORS:
        return f"operator {operator!r} is not one of {', '.join(TOLERATION_OPERATORS)}"
    if not key and operator != "Exists":
        return "has no key, so its operator must be 'Exists' (tolerate every taint)"
    if operator == "Exists" and value:
        return "has operator 'Exists', so it must have no value"
    if label_value_problem(value):
        return f"value {value!r} {label_value_problem(value)}"
    if effect and effect not in TAINT_EFFECTS:
        return f"effect {effect!r} is not one of {', '.join(TAINT_EFFECTS)} (or empty: every effect)"
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
        return f"tolerationSeconds must be a whole number of seconds, got {seconds!r}"
    if seconds is not None and effect != "NoExecute":
        return "sets tolerationSeconds, which needs effect 'NoExecute'"
    return None
