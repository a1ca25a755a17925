"""The hub: stars, pull statistics, tag activity, webhooks, search and the pages' service layer."""
