from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

DEFAULT_MODEL = "MiniMax-M2.5"
MODEL_CHOICES = [("MiniMax-M2.5", "MiniMax-M2.5"), ("MiniMax-M2.1", "MiniMax-M2.1")]
DASHSCOPE_HOSTS = {
    "beijing": "https://dashscope.aliyuncs.com",
    "singapore": "https://dashscope-intl.aliyuncs.com",
}
# Where each protocol lives on a DashScope host (docs/upstream-protocol.md §1, §2).
DASHSCOPE_PATHS = {"openai_compat": "/compatible-mode/v1", "dashscope_native": "/api/v1"}


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, default="New chat")
    # Any model an enabled provider offers (chat.providers.selection.offered_models).
    model = models.CharField(max_length=64, default=DEFAULT_MODEL)
    system_prompt = models.TextField(blank=True, default="")
    temperature = models.FloatField(default=1.0)
    top_p = models.FloatField(default=0.95)
    presence_penalty = models.FloatField(default=0.0)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
    enable_search = models.BooleanField(
        default=False, help_text="Let the model search the web (DashScope's enable_search)."
    )
    pinned = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-updated_at"]),
            # The keyset pages of the sidebar and of the archive (chat.selectors.conversations).
            # Partial rather than on `archived`: Django writes the filter as `NOT archived`,
            # which SQLite uses an index for only when it is the index's own condition.
            models.Index(
                fields=["owner", "-pinned", "-updated_at", "-id"],
                condition=Q(archived=False),
                name="chat_conv_sidebar_idx",
            ),
            models.Index(
                fields=["owner", "-pinned", "-updated_at", "-id"],
                condition=Q(archived=True),
                name="chat_conv_archive_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        STREAMING = "streaming"
        COMPLETE = "complete"
        STOPPED = "stopped"
        FAILED = "failed"
        INTERRUPTED = "interrupted"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True, default="")
    reasoning = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    finish_reason = models.CharField(max_length=32, blank=True, default="")
    # How a failed answer failed, as facts: the words are made when the message is shown
    # (chat.protocol.texts.failure_text), so they follow the reader's language.
    error_code = models.CharField(max_length=100, blank=True, default="")
    # kind, upstream_message, retry_after, timeout_seconds (chat.upstream.Failure).
    error_params = models.JSONField(blank=True, default=dict)
    error_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_retryable = models.BooleanField(default=False)
    model = models.CharField(max_length=64, blank=True, default="")
    demo = models.BooleanField(default=False, help_text="Answered by the offline demo model.")
    request_id = models.CharField(max_length=100, blank=True, default="")
    # The key of the attempt that answered (None: the environment key or the offline demo).
    provider_key = models.ForeignKey(
        "ProviderKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The web pages the model's web search read: [{index, title, url, site_name, icon}].
    search_sources = models.JSONField(blank=True, default=list)

    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    reasoning_tokens = models.PositiveIntegerField(null=True, blank=True)
    cached_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)

    # Milliseconds since the request was sent.
    first_reasoning_ms = models.PositiveIntegerField(null=True, blank=True)
    first_answer_ms = models.PositiveIntegerField(null=True, blank=True)
    reasoning_ms = models.PositiveIntegerField(null=True, blank=True)
    total_ms = models.PositiveIntegerField(null=True, blank=True)

    # Live-stream bookkeeping: the frame sequence number the stored text corresponds to, the
    # last checkpoint time (a stale one means the owning process died), and a stop request
    # that the owning process polls when Stop arrives on another process.
    started_at = models.DateTimeField(null=True, blank=True)
    stream_seq = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    stop_requested = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["conversation", "id"])]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status="streaming"),
                name="one_streaming_message_per_conversation",
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} #{self.pk}"


class ConversationShare(models.Model):
    """A read-only snapshot of a conversation behind a link. Only the token's SHA-256 is
    stored, so the database alone cannot open a share; revoking keeps the row as a record."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="shares")
    token_hash = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    include_reasoning = models.BooleanField(default=False)
    # [{"role", "content", "reasoning", "model", "created_at"}], copied when the link was made.
    messages = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"share of {self.conversation_id}"


class GenerationStart(models.Model):
    """One row per upstream request a user started (send, retry, regenerate): what the
    per-minute limit counts, across processes."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generation_starts"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class Provider(models.Model):
    """An upstream service: its wire protocol, where it is, which models it offers, and a pool
    of keys (ProviderKey) tried in priority order."""

    class Protocol(models.TextChoices):
        OPENAI_COMPAT = "openai_compat", "OpenAI-compatible"
        DASHSCOPE_NATIVE = "dashscope_native", "DashScope native"

    class Endpoint(models.TextChoices):
        BEIJING = "beijing", "DashScope China (Beijing): dashscope.aliyuncs.com"
        SINGAPORE = "singapore", "DashScope international (Singapore): dashscope-intl.aliyuncs.com"
        CUSTOM = "custom", "Custom base URL"

    name = models.CharField(max_length=100)
    protocol = models.CharField(
        max_length=32, choices=Protocol.choices, default=Protocol.OPENAI_COMPAT
    )
    endpoint = models.CharField(max_length=16, choices=Endpoint.choices, default=Endpoint.BEIJING)
    custom_base_url = models.URLField(
        max_length=300,
        blank=True,
        default="",
        help_text="For a custom endpoint: the base URL, e.g. https://api.minimax.io/v1 or "
        "http://vllm.internal:8000/v1 (requests go to <base>/chat/completions).",
    )
    offered_models = models.TextField(
        blank=True,
        default="",
        help_text="Models this provider offers, one per line. Empty: MiniMax-M2.5 and "
        "MiniMax-M2.1.",
    )
    send_reasoning = models.BooleanField(
        default=False,
        help_text="Send earlier answers' reasoning back to the model. Off by default: MiniMax "
        "drops the thinking of earlier turns anyway, so it only costs input tokens.",
    )
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(
        default=False, help_text="Serves a model first when several providers offer it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_provider"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def base_url(self) -> str:
        if self.endpoint == self.Endpoint.CUSTOM:
            return self.custom_base_url
        return DASHSCOPE_HOSTS[self.endpoint] + DASHSCOPE_PATHS[self.protocol]

    def model_names(self) -> list[str]:
        names = [line.strip() for line in self.offered_models.splitlines() if line.strip()]
        return names or [value for value, _label in MODEL_CHOICES]


class ProviderKey(models.Model):
    """One API key of a provider's pool, stored encrypted (chat.crypto), with its health."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100)
    encrypted_key = models.TextField(editable=False)
    key_tail = models.CharField(max_length=8, editable=False)
    priority = models.PositiveSmallIntegerField(
        default=1, help_text="Keys with lower numbers are tried first."
    )
    enabled = models.BooleanField(default=True)
    # Set when the upstream refused the key itself (401/403, billing): skipped until an admin
    # re-enables it. The code and message are the upstream's, the words come from texts.py.
    unhealthy_code = models.CharField(max_length=100, blank=True, default="", editable=False)
    unhealthy_kind = models.CharField(max_length=40, blank=True, default="", editable=False)
    unhealthy_message = models.TextField(blank=True, default="", editable=False)
    unhealthy_since = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the upstream throttled the key (429): skipped until then.
    resting_until = models.DateTimeField(null=True, blank=True, editable=False)
    request_count = models.PositiveIntegerField(default=0, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "priority", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_key})"

    @property
    def masked_key(self) -> str:
        return f"••••{self.key_tail}" if self.key_tail else "(none)"
