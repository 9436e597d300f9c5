"""Failed answers store facts (error_params) instead of words (error_message).

Words are now made when a message is shown (chat.protocol.texts.failure_text). A row stored
before this keeps its code and its old words as error_params["legacy_text"], which
failure_text shows as they are.
"""

from django.db import migrations, models


def words_to_params(apps, schema_editor):
    Message = apps.get_model("chat", "Message")
    rows = Message.objects.exclude(error_message="").only("pk", "error_message")
    for message in rows.iterator():
        Message.objects.filter(pk=message.pk).update(
            error_params={"legacy_text": message.error_message}
        )


def params_to_words(apps, schema_editor):
    Message = apps.get_model("chat", "Message")
    for message in Message.objects.exclude(error_code="").only("pk", "error_code", "error_params"):
        params = message.error_params or {}
        words = params.get("legacy_text") or f"The answer failed ({message.error_code})."
        Message.objects.filter(pk=message.pk).update(error_message=words)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="error_params",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(words_to_params, params_to_words),
        migrations.RemoveField(
            model_name="message",
            name="error_message",
        ),
    ]
