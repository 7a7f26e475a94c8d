"""Credential patterns and redaction.

Every fake secret is assembled at runtime from a prefix and a deterministic pseudo-random
body, so no literal in this file looks like a real credential to a push-protection scanner.
"""

from __future__ import annotations

import base64
import json
import random
import string

import pytest

from otel_cot.secrets import SECRET_KINDS, SecretMatch, find_secrets, redact, shannon_entropy

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
URLSAFE = ALNUM + "-_"
BASE64 = ALNUM + "+/"


def rand(n: int, seed: object, alphabet: str = ALNUM) -> str:
    rng = random.Random(f"{seed}:{n}:{alphabet}")
    while True:
        s = "".join(rng.choice(alphabet) for _ in range(n))
        # Every character class the alphabet offers is present, as in real keys.
        if n < 8 or all(
            any(f(c) for c in s) for f in (str.isdigit, str.isupper) if any(map(f, alphabet))
        ):
            return s


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(seed: object) -> str:
    head = b64url(json.dumps({"alg": "HS256", "typ": "J" + "WT"}).encode())
    body = b64url(json.dumps({"sub": rand(10, seed), "iat": 1700000000}).encode())
    return head + "." + body + "." + rand(43, seed, URLSAFE)


DASH5 = "-----"


def make_pem(label: str, seed: object, lines: int = 6, end: bool = True, nl: str = "\n") -> str:
    begin, stop = DASH5 + "BEGIN " + label + DASH5, DASH5 + "END " + label + DASH5
    body = nl.join(rand(64, (seed, i), BASE64) for i in range(lines))
    return begin + nl + body + nl + (stop if end else "")


def dashed(*parts: str) -> str:
    return "-".join(parts)


# --- self-identifying tokens: (kind, value) ---------------------------------------------

DIGITS = string.digits
TOKENS: list[tuple[str, str]] = [
    ("openai_api_key", "sk" + "-" + rand(48, "oa1")),
    ("openai_api_key", "sk" + "-proj-" + rand(156, "oa2", URLSAFE)),
    ("openai_api_key", "sk" + "-svcacct-" + rand(120, "oa3", URLSAFE)),
    ("anthropic_api_key", "sk" + "-ant-" + "api03-" + rand(93, "an1", URLSAFE) + "AA"),
    ("anthropic_api_key", "sk" + "-ant-" + "admin01-" + rand(93, "an2", URLSAFE) + "AA"),
    ("aws_access_key_id", "AK" + "IA" + rand(16, "ak1", UPPER_DIGITS)),
    ("aws_access_key_id", "AS" + "IA" + rand(16, "ak2", UPPER_DIGITS)),
    ("github_token", "gh" + "p_" + rand(36, "gh1")),
    ("github_token", "gh" + "o_" + rand(36, "gh2")),
    ("github_token", "gh" + "u_" + rand(36, "gh3")),
    ("github_token", "gh" + "s_" + rand(36, "gh4")),
    ("github_token", "gh" + "r_" + rand(36, "gh5")),
    ("github_token", "github" + "_pat_" + rand(22, "gh6") + "_" + rand(59, "gh7")),
    ("gitlab_token", "gl" + "pat-" + rand(20, "gl1", URLSAFE)),
    ("slack_token", dashed("xo" + "xb", rand(12, 1, DIGITS), rand(13, 2, DIGITS), rand(24, 3))),
    ("slack_token", dashed("xo" + "xp", rand(12, 4, DIGITS), rand(12, 5, DIGITS), rand(32, 6))),
    ("slack_token", "xo" + "xa-2-" + rand(40, "sl7")),
    ("slack_token", "xo" + "xr-" + rand(40, "sl8")),
    ("slack_token", dashed("xa" + "pp-1", rand(11, 7, UPPER_DIGITS), rand(13, 8, DIGITS), rand(64, 9))),
    ("google_api_key", "AI" + "za" + rand(35, "go1", URLSAFE)),
    ("stripe_key", "sk" + "_live_" + rand(24, "st1")),
    ("stripe_key", "rk" + "_live_" + rand(99, "st2")),
    ("huggingface_token", "hf" + "_" + rand(34, "hf1", string.ascii_letters)),
    ("npm_token", "np" + "m_" + rand(36, "np1")),
    ("pypi_token", "py" + "pi-" + "AgEIcHlwaS5vcmc" + rand(70, "py1", URLSAFE)),
    ("jwt", make_jwt("jw1")),
]

# Where agents leak keys: prose, shell, JSON, source code, env and YAML files, headers.
TOKEN_CONTEXTS: list[str] = [
    "here is the key {s} - keep it safe",
    "{s}",
    'curl -H "Authorization: Bearer {s}" https://api.example.com/v1/models',
    "curl https://api.example.com -H 'x-api-key: {s}' -d '{{}}'",
    "export SERVICE_API_KEY={s}",
    'export SERVICE_API_KEY="{s}"',
    '{{"api_key": "{s}", "model": "gpt"}}',
    '{{\\"api_key\\": \\"{s}\\"}}',
    'client = Client(api_key="{s}")\n',
    "os.environ['SERVICE_KEY'] = '{s}'",
    "SERVICE_TOKEN={s}\nDEBUG=1\n",
    "service:\n  token: {s}\n  region: us-east-1\n",
    "use `{s}` as the credential",
    "[{s}]",
]


def _ids(cases: list[tuple[str, ...]], kind_at: int) -> list[str]:
    return [f"{c[kind_at]}-{i}" for i, c in enumerate(cases)]


@pytest.mark.parametrize("context", TOKEN_CONTEXTS)
@pytest.mark.parametrize(("kind", "secret"), TOKENS, ids=_ids(TOKENS, 0))
def test_token_found_in_context(kind: str, secret: str, context: str) -> None:
    text = context.format(s=secret)
    matches = find_secrets(text)
    assert [(m.kind, text[m.start : m.end]) for m in matches] == [(kind, secret)]


# --- secrets recognised by context: (text, kind, secret value) ---------------------------


def case(template: str, kind: str, secret: str) -> tuple[str, str, str]:
    """A positive case; "@@" in the template marks where the secret goes."""
    assert "@@" in template
    return template.replace("@@", secret), kind, secret


PW, GENERIC = "password_assignment", "generic_api_key_assignment"
HIGH_ENTROPY = "high_entropy_assignment"
AWS, DB_URL = "aws_secret_access_key", "database_url_password"
HUMAN_PW = "Tr0ub4dor&3x"
OPAQUE = rand(40, "opaque", URLSAFE + ".")
AWS_SECRET = rand(40, "aws-secret", BASE64)
HIGH = rand(32, "high")
HOOK_PATH = "/".join(
    ["services", "T" + rand(8, 1, UPPER_DIGITS), "B" + rand(8, 2, UPPER_DIGITS), rand(24, 0)]
)
BASIC = base64.b64encode(b"deploy:" + HUMAN_PW.encode()).decode()
UUID = "123e4567-e89b-12d3-a456-426614174000"

CONTEXTUAL: list[tuple[str, str, str]] = [
    # password_assignment: code, env files, JSON, YAML, CLI flags, other languages
    case('{"password": "@@"}', PW, HUMAN_PW),
    case('{"user": "app", "password" : "@@"}', PW, HUMAN_PW),
    case('{\\"password\\": \\"@@\\"}', PW, HUMAN_PW),
    case('db.connect(user="app", password="@@")', PW, HUMAN_PW),
    case("DB_PASSWORD=@@\nDB_USER=app\n", PW, "s3cr3t-value"),
    case("PGPASSWORD=@@ psql -h db", PW, "hunter22"),
    case("database:\n  password: @@\n  user: app\n", PW, "hunter22"),
    case("database:\n  password: '@@'\n", PW, "hunter22"),
    case("passwd: @@ # rotate monthly\n", PW, "hunter22"),
    case("mysql --password @@ --user root", PW, "hunter22x"),
    case("mysql --password=@@ --user root", PW, "hunter22x"),
    case('tool --db-password "@@"', PW, "correct horse battery staple"),
    case("$config['password'] = '@@';", PW, "hunter22"),
    case("'password' => '@@',", PW, "hunter22"),
    case('password := "@@"', PW, "hunter22"),
    case('const dbPassword = "@@";', PW, "hunter22"),
    case('<user name="app" password="@@"/>', PW, "hunter22"),
    case("ssh_passphrase: '@@'\n", PW, "correct horse 42 battery"),
    case("DB_PASS=@@\n", PW, "hunter22"),
    case("DB_PASSWORD=@@\nNEXT=1\n", PW, "Tr0ub4dor&3x;x"),  # dotenv: up to whitespace
    case("FROM python:3.12\nENV DB_PASSWORD=@@\n", PW, "hunter22"),
    case("    export DB_PASSWORD=@@\n", PW, HUMAN_PW),
    case("https://example.com/login?user=bob&password=@@&next=/", PW, "hunter22"),
    # generic_api_key_assignment: secret-, token- and api-key-like names
    case("SECRET_KEY = '@@'", GENERIC, "django-insecure-" + rand(40, "dj", URLSAFE)),
    case('{"client_secret": "@@"}', GENERIC, rand(24, "cs")),
    case("JWT_SECRET=@@\n", GENERIC, "mysupersecretvalue"),
    case("token=@@\n", GENERIC, rand(20, "tk")),
    case("api_key: @@\n", GENERIC, rand(32, "ak")),
    case("X-Api-Key: @@\r\n", GENERIC, rand(32, "xh")),
    case("tool --api-key @@ --verbose", GENERIC, rand(32, "ck")),
    case("gh auth login --token=@@", GENERIC, rand(30, "ct")),
    case('accessToken: "@@",', GENERIC, rand(30, "at")),
    case("ACCESS_TOKEN=@@", GENERIC, rand(30, "at2")),
    case('"credentials": "@@"', GENERIC, rand(30, "cr")),
    case('{"api_key": "@@"}', GENERIC, UUID),  # some services issue UUID keys
    # high_entropy_assignment: a weaker key-like name needs a random-looking value
    case("my_key = '@@'", HIGH_ENTROPY, HIGH),
    case('{"key": "@@"}', HIGH_ENTROPY, HIGH),
    case("SESSION_COOKIE=@@\n", HIGH_ENTROPY, HIGH),
    # aws_secret_access_key
    case("aws_secret_access_key = @@\n", AWS, AWS_SECRET),
    case("export AWS_SECRET_ACCESS_KEY=@@", AWS, AWS_SECRET),
    case('{"AccessKeyId": "x", "SecretAccessKey": "@@"}', AWS, AWS_SECRET),
    case("aws configure set aws_secret_access_key @@", AWS, AWS_SECRET),
    case("AWS_SECRET=@@", AWS, AWS_SECRET),
    # bearer_token / basic_auth
    case("Authorization: Bearer @@\r\n", "bearer_token", OPAQUE),
    case('curl -H "Authorization: Bearer @@" https://x.test', "bearer_token", OPAQUE),
    case('{"headers": {"Authorization": "Bearer @@"}}', "bearer_token", OPAQUE),
    case("sent header bearer @@", "bearer_token", OPAQUE),
    case("Authorization: token @@", "bearer_token", OPAQUE),
    case("Authorization: Basic @@", "basic_auth", BASIC),
    # connection strings
    case("DATABASE_URL=postgres://app:@@@db.internal:5432/app", DB_URL, "S3cr3tPw"),
    case("postgresql+psycopg2://app:@@@db/app", DB_URL, "S3cr3tPw"),
    case('MONGO_URI="mongodb+srv://admin:@@@cluster0.mongodb.net/test"', DB_URL, "Xk92mmQ7"),
    case("redis://:@@@cache:6379/0", DB_URL, "p4ssw0rdX"),
    case("jdbc:mysql://root:@@@localhost:3306/db", DB_URL, "S3cr3tPw"),
    case("git clone https://deploy:@@@git.example.com/repo.git", "url_password", "S3cr3tPw"),
    # slack webhook: the path is the secret
    case("post to https://hooks.slack.com/@@ now", "slack_webhook", HOOK_PATH),
    # a token found by its context is labelled by what it is
    case("https://x-access-token:@@@github.com/o/r.git", "github_token", TOKENS[10][1]),
    case("password=@@", "openai_api_key", TOKENS[0][1]),
]

PEMS: list[str] = [
    make_pem("RSA PRIVATE KEY", "pem1"),
    make_pem("PRIVATE KEY", "pem2"),
    make_pem("OPENSSH PRIVATE KEY", "pem3"),
    make_pem("EC PRIVATE KEY", "pem4", lines=3),
    make_pem("ENCRYPTED PRIVATE KEY", "pem5"),
    make_pem("PGP PRIVATE KEY BLOCK", "pem6"),
]
CONTEXTUAL += [case("key file:\n@@\nend of file", "private_key", pem) for pem in PEMS]
CONTEXTUAL += [
    # A service-account JSON: the block is a JSON string with escaped newlines.
    case('{"type": "service_account", "private_key": "@@\\n", "client_email": "x"}',
         "private_key", make_pem("PRIVATE KEY", "pem7", nl="\\n")),
    # Cut off before END (a truncated capture): still redacted to the end of the body.
    case("here:\n@@", "private_key", make_pem("RSA PRIVATE KEY", "pem8", end=False).rstrip("\n")),
]


@pytest.mark.parametrize(("text", "kind", "secret"), CONTEXTUAL, ids=_ids(CONTEXTUAL, 1))
def test_contextual_secret(text: str, kind: str, secret: str) -> None:
    matches = find_secrets(text)
    assert [(m.kind, text[m.start : m.end]) for m in matches] == [(kind, secret)]


# --- false positives ----------------------------------------------------------------------

_BASE64_BLOB = base64.b64encode(random.Random(7).randbytes(3000)).decode()

NEGATIVES: list[str] = [
    # prose about passwords and tokens
    "enter your password here",
    "Please enter your password:",
    "Reset your password. The password must be at least 8 characters.",
    "password: must be at least 8 characters long and contain a digit",
    "The bearer of bad news arrived.",
    "Bearer authentication is described in RFC 6750.",
    "Basic authentication sends credentials on every request.",
    "Set the `password` field, then rotate the token.",
    "I found the secret: it was in the config all along.",
    # values that are code, not literals
    'password = os.environ["DB_PASSWORD"]',
    "password=getpass()",
    'password = getpass.getpass("Password: ")',
    "password = config.db.password",
    "conn = connect(user=user, password=password)",
    "conn = connect(user=user, password=pw, host=host)",
    "def login(self, password: str) -> bool:",
    "password: Optional[str] = None",
    "password: str\n",
    "api_key: str | None = None",
    "api_key = os.getenv('OPENAI_API_KEY')",
    "token = response.json()['access_token']",
    "token = tokens[i]",
    "self.secret = secret",
    "const token = await getToken();",
    "token: string;",
    "client = OpenAI(api_key=OPENAI_API_KEY)",
    'headers = {"Authorization": f"Bearer {api_key}"}',
    'headers["x-api-key"] = api_key',
    "sorted(items, key=lambda kv: kv[1])",
    "auth = HTTPBasicAuth(user, pw)",
    "auth: true",
    "if password == '':",
    # placeholders
    "api_key = 'changeme'",
    "PASSWORD=changeme",
    "API_KEY=your-api-key-here",
    'OPENAI_API_KEY="your-api-key-here"',
    "export OPENAI_API_KEY=sk-your-api-key-here",
    "token: xxxxxxxx",
    'api_key: "xxxxxxxxxxxxxxxxxxxxxxxx"',
    'secret="<TOKEN>"',
    "token=${API_KEY}",
    'api_key = "${API_KEY}"',
    "export OPENAI_API_KEY=$OPENAI_API_KEY",
    "password: REDACTED",
    'password: "***"',
    '"password": "********"',
    "password: {{ vault_db_password }}",
    "password: ${{ secrets.DOCKER_PASSWORD }}",
    "Authorization: Bearer $TOKEN",
    "Authorization: Bearer <token>",
    "Authorization: Bearer ${GITHUB_TOKEN}",
    "Authorization: Bearer YOUR_ACCESS_TOKEN_HERE",
    "postgres://user:password@localhost/db",
    "postgres://user:pass@localhost/db",
    "postgres://user:${DB_PASSWORD}@db/app",
    "sk" + "-" + "x" * 48,
    "ghp" + "_" + "X" * 36,
    "AK" + "IA" + "IOSFODNN7" + "EXAMPLE",
    "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG" + "/bPxRfiCY" + "EXAMPLE" + "KEY",
    "https://hooks.slack.com/services/T00000000/B00000000/" + "X" * 24,
    # ids, hashes, encoded data
    "request_id=550e8400-e29b-41d4-a716-446655440000",
    "trace_id 4bf92f3577b34da6a3ce929d0e0e4736 span_id 00f067aa0ba902b7",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8\nAuthor: dev",
    "sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "checksum_key = '" + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'",
    "cache_key = 'user:1234:profile:v2'",
    "primary_key = 'user_id'",
    "session_key = '" + "550e8400-e29b-41d4-a716-446655440000'",
    "data:image/png;base64," + _BASE64_BLOB,
    '{"image": "' + _BASE64_BLOB + '"}',
    "npm install left-pad@1.3.0 --save",
    # "sk-" and friends inside ordinary words
    "task-list disk-usage risk-assessment ask-the-team",
    "pip install sk-learn-extensions-for-everyone",
    "the mask-rcnn-resnet50-fpn-coco model",
    "bypass = True",
    "compass = 'north-north-west'",
    # names ending in a credential word that are not credentials
    "max_tokens=1024",
    '"max_tokens": 4096',
    "next_page_token: " + "CiAKGjBpNDd2Nmp2Zml2cXRwY3Z0bHNnZ2U2Z3Q3MBgB\n",
    'pad_token = "<pad>"',
    'eos_token = "</s>"',
    'publishable_key = "pk_live_' + rand(24, "pk") + '"',
    "PWD=/home/user/project",
    "OLDPWD=/tmp",
    "key: ~/.ssh/id_ed25519",
    "--key ./certs/server.key",
    "secretKeyRef:\n  name: db\n  key: password\n",
    "tool --password-file /run/secrets/db",
    "my $out = $ok ? \"PASS\" : \"FAIL\";",
    "expect the \"password:\" prompt and then send it",
    "the --username and --password options",
    "        key_password=None,\n        aws_secret_access_key=aws_secret_key,\n",
    "    is_first_token=line_offset == 0,",
    "s3_disable_express_session_auth=s3_disable_express_session_auth,",
    '{"input_token": "position", "output_token": "NextMarker",',
    '"result_key": "Ipv6CidrAssociations"}',
    '"AWS::AppSync::ApiKey": ' + '"3d104ea0be48564b",',
    '"ChangeToken": ' + '"abcd12f2-46da-4fdb-b8d5-fbd4c466928f"',
    '"nextForwardToken": ' + '"f/31961209122447488583055879464742346735121166569214640130"',
    '"lastModifiedSecret": 1556312220.133',
    'ACL_CREDENTIALS = "Access-Control-Allow-Credentials"',
    '"AWS_SECRET_ACCESS_KEY": "role-secret-key", "SessionToken": "session-token"',
    'NOPASSWORD = "no-password-required"',
    '"IAMUserChangePassword": "arn:aws:iam::aws:policy/IAMUserChangePassword"',
    '"basic_auth": ".asyncio.server",',
    "passphrase: 'sample'",
    f"_KEY_RE = ('{DASH5}BEGIN RSA PRIVATE KEY{DASH5}', '{DASH5}END RSA PRIVATE KEY{DASH5}')",
    # an elided key from documentation
    DASH5 + "BEGIN RSA PRIVATE KEY" + DASH5 + "\nMIIEowIBAAKCAQEAqKpRgnn6yq26U3yt5YFZquyukfRjbMXD...fvY4+te\n"
    + DASH5 + "END RSA PRIVATE KEY" + DASH5,
    "cvs -d :pserver:anoncvs@sources.example.org:/cvs co x  cvs://:pserver:anoncvs@sources",
    "new URL('https://abc:xyz@example.com')",
    # URLs without credentials
    "see https://example.com:8443/path?q=1 and ssh://git@github.com:22/o/r.git",
    "https://user@example.com/path",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_false_positive(text: str) -> None:
    assert find_secrets(text) == []
    assert redact(text) == (text, 0)


# --- redaction ----------------------------------------------------------------------------

ALL_POSITIVE: list[tuple[str, str, str]] = [
    (ctx.format(s=secret), kind, secret) for kind, secret in TOKENS for ctx in TOKEN_CONTEXTS[:3]
] + CONTEXTUAL


def _windows(secret: str, n: int = 8) -> set[str]:
    return {secret[i : i + n] for i in range(len(secret) - n + 1)}


@pytest.mark.parametrize(("text", "kind", "secret"), ALL_POSITIVE)
def test_redaction_replaces_only_the_value(text: str, kind: str, secret: str) -> None:
    out, count = redact(text)
    assert count == 1
    start = text.index(secret)
    assert out == text[:start] + f"[REDACTED:{kind}]" + text[start + len(secret) :]
    assert not any(w in out for w in _windows(secret))


@pytest.mark.parametrize("text", [t for t, _, _ in ALL_POSITIVE] + NEGATIVES)
def test_redaction_is_idempotent(text: str) -> None:
    once, _ = redact(text)
    assert redact(once) == (once, 0)


def test_other_occurrences_of_a_found_secret_are_redacted() -> None:
    text = "DB_PASSWORD=Hunter2-hunter2\n... later the agent echoed Hunter2-hunter2 back."
    out, count = redact(text)
    assert count == 2 and "hunter2" not in out
    assert out.endswith("echoed [REDACTED:password_assignment] back.")


def test_mixed_document() -> None:
    doc = "\n".join(
        [
            "# .env for staging",
            "OPENAI_API_KEY=" + TOKENS[1][1],
            "ANTHROPIC_API_KEY=" + TOKENS[3][1],
            "AWS_ACCESS_KEY_ID=" + TOKENS[5][1],
            "AWS_SECRET_ACCESS_KEY=" + AWS_SECRET,
            "DATABASE_URL=postgres://app:S3cr3tPw@db:5432/app",
            "DB_PASSWORD=" + HUMAN_PW,
            "SLACK_BOT_TOKEN=" + TOKENS[14][1],
            "DEBUG=true",
            "LOG_LEVEL=info",
            "REQUEST_ID=550e8400-e29b-41d4-a716-446655440000",
        ]
    )
    kinds = [m.kind for m in find_secrets(doc)]
    assert kinds == [
        "openai_api_key",
        "anthropic_api_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "database_url_password",
        "password_assignment",
        "slack_token",
    ]
    out, count = redact(doc)
    assert count == 7
    assert "DEBUG=true\nLOG_LEVEL=info\nREQUEST_ID=550e8400-e29b-41d4-a716-446655440000" in out
    for secret in (TOKENS[1][1], TOKENS[3][1], AWS_SECRET, HUMAN_PW, "S3cr3tPw"):
        assert secret not in out


def test_matches_are_sorted_and_disjoint() -> None:
    doc = " ".join(t for t, _, _ in ALL_POSITIVE)
    matches = find_secrets(doc)
    assert len(matches) >= len(CONTEXTUAL)
    for a, b in zip(matches, matches[1:]):
        assert a.end <= b.start


# --- API ----------------------------------------------------------------------------------


def test_every_kind_is_declared_and_covered() -> None:
    seen = {k for k, _ in TOKENS} | {k for _, k, _ in CONTEXTUAL}
    assert seen <= SECRET_KINDS
    assert SECRET_KINDS <= seen, f"kinds without a test case: {sorted(SECRET_KINDS - seen)}"


def test_secret_match_is_frozen_value() -> None:
    m = SecretMatch("jwt", 1, 5)
    assert m == SecretMatch("jwt", 1, 5)
    with pytest.raises(AttributeError):
        m.start = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("s", "bits"), [("", 0.0), ("aaaa", 0.0), ("ab", 1.0), ("abcd", 2.0), ("aabb", 1.0)]
)
def test_shannon_entropy(s: str, bits: float) -> None:
    assert shannon_entropy(s) == pytest.approx(bits)


def test_empty_text() -> None:
    assert find_secrets("") == []
    assert redact("") == ("", 0)


# --- size and pathological input (correctness only; timing lives in bench/) ----------------

MB = 1_000_000


CLEAN_LINES = [
    "The agent ran pytest; all 312 tests passed, so it opened a pull request.",
    "def main(argv: list[str]) -> int:\n    return run(argv, key=lambda x: x.name)",
    "Updated task-list and disk-usage checks in commit 9fceb02d0ae598e95dc970b74767f19372d61af8.",
    "The password must be at least 8 characters; enter your password here.",
    'password = os.environ["DB_PASSWORD"]\ntoken = response.json()["access_token"]',
    '{"max_tokens": 4096, "model": "m", "request_id": "550e8400-e29b-41d4-a716-446655440000"}',
    "See https://example.com/docs?page=2 and the bearer of the news.",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ok",
    "API_KEY=your-api-key-here  # placeholder, set it in .env",
    "headers = {'Authorization': f'Bearer {api_key}'}",
]


def _clean_megabyte() -> str:
    rng = random.Random(11)
    parts: list[str] = []
    size = 0
    while size < MB:
        line = rng.choice(CLEAN_LINES)
        parts.append(line)
        size += len(line) + 1
    return "\n".join(parts)[:MB]


def test_clean_megabyte() -> None:
    text = _clean_megabyte()
    assert len(text) == MB
    assert find_secrets(text) == []


def test_megabyte_with_many_secrets() -> None:
    filler = "ran ok, nothing else here"
    blocks: list[str] = []
    secrets: list[str] = []
    i = 0
    size = 0
    while size < MB:
        key = "sk" + "-proj-" + rand(100, ("many", i), URLSAFE)
        pw = rand(14, ("pw", i))
        block = f"step {i}: export OPENAI_API_KEY={key}\nDB_PASSWORD={pw}\n{filler}\n"
        blocks.append(block)
        secrets += [key, pw]
        size += len(block)
        i += 1
    text = "".join(blocks)
    assert len(text) >= MB
    matches = find_secrets(text)
    assert len(matches) == 2 * i
    out, count = redact(text)
    assert count == 2 * i
    assert not any(s in out for s in secrets)
    assert out.count(filler) == i


@pytest.mark.parametrize(
    "unit",
    [
        "eyJ", "eyJhbGciOi.", "sk-", "sk-a", "key=", "key=akey=", "password: x", "pass=word=",
        DASH5 + "BEGIN PRIVATE KEY" + DASH5, "://a:", "a:b@", "Bearer ", "token: Bearer ", "--password ",
        "--key-", "-", "_", "AKIA", "AIza", "ghp_", "hooks.slack.com/services/", "a" * 50 + ".",
        '\\"password\\": \\"',
    ],
)
def test_pathological_repetition_terminates(unit: str) -> None:
    text = unit * (200_000 // len(unit))
    out, _ = redact(text)
    assert redact(out)[0] == out
