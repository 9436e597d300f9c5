from __future__ import annotations

from oauth2_provider.oauth2_validators import OAuth2Validator


class ClaimsValidator(OAuth2Validator):
    """The standard claims minimax-web reads, from the provider's user."""

    def get_additional_claims(self, request: object) -> dict:
        user = request.user
        return {
            "email": user.email,
            "email_verified": True,
            "preferred_username": user.username,
            "name": user.get_full_name(),
        }
