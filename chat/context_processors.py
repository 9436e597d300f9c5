from django.http import HttpRequest

from chat.upstream_config import demo_mode_active


def upstream_mode(request: HttpRequest) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"demo_mode": demo_mode_active()}
