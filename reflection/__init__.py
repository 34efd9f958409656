"""Reflection component: reflector, curator and the persistent playbook of lessons."""
