from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

DEFAULT_MODEL = "MiniMax-M2.5"
MODEL_CHOICES = [("MiniMax-M2.5", "MiniMax-M2.5"), ("MiniMax-M2.1", "MiniMax-M2.1")]


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, default="New chat")
    model = models.CharField(max_length=64, choices=MODEL_CHOICES, default=DEFAULT_MODEL)
    system_prompt = models.TextField(blank=True, default="")
    temperature = models.FloatField(default=1.0)
    top_p = models.FloatField(default=0.95)
    presence_penalty = models.FloatField(default=0.0)
    max_tokens = models.PositiveIntegerField(null=True, blank=True)
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


class ProviderKey(models.Model):
    """An upstream API key managed in admin. The key is stored encrypted (chat.crypto)."""

    name = models.CharField(max_length=100)
    base_url = models.URLField(
        max_length=300, default="https://dashscope.aliyuncs.com/compatible-mode/v1"
    )
    encrypted_key = models.TextField(editable=False)
    key_tail = models.CharField(max_length=8, editable=False)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(
        default=False, help_text="Used for chats when DASHSCOPE_API_KEY is not set."
    )
    request_count = models.PositiveIntegerField(default=0, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_key})"

    @property
    def masked_key(self) -> str:
        return f"••••{self.key_tail}" if self.key_tail else "(none)"
