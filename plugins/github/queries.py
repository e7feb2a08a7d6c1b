"""Every GraphQL query the GitHub collectors send, in one place so a test can validate them all.

Nested page sizes are chosen under GitHub's node limit (500,000 per query) and its point cost: a
search page of 100 pull requests with 50 reviews and 50 check contexts each is about 10,000 nodes.
A nested list longer than its page is flagged `truncated` in the evidence rather than silently cut.
"""

from __future__ import annotations

COMMIT_PAGE = """
fragment CommitPage on CommitHistoryConnection {
  totalCount
  pageInfo { hasNextPage endCursor }
  nodes {
    oid
    messageHeadline
    committedDate
    url
    author { name email user { login } }
    committer { name email user { login } }
    parents(first: 2) { totalCount }
    associatedPullRequests(first: 5) { nodes { number merged baseRefName } }
  }
}
"""

REPOSITORIES = """
query Repositories($org: String!, $after: String) {
  organization(login: $org) {
    repositories(first: 100, after: $after, orderBy: {field: NAME, direction: ASC}) {
      pageInfo { hasNextPage endCursor }
      nodes { name isArchived visibility defaultBranchRef { name } }
    }
  }
}
"""

DEFAULT_BRANCH_COMMITS = (
    """
query DefaultBranchCommits($org: String!, $since: GitTimestamp!, $until: GitTimestamp!, $after: String) {
  organization(login: $org) {
    repositories(first: 100, after: $after, orderBy: {field: NAME, direction: ASC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        name
        isArchived
        defaultBranchRef {
          name
          target { ... on Commit { history(first: 100, since: $since, until: $until) { ...CommitPage } } }
        }
      }
    }
  }
}
"""
    + COMMIT_PAGE
)

REPOSITORY_COMMITS = (
    """
query RepositoryCommits(
  $org: String!, $repo: String!, $since: GitTimestamp!, $until: GitTimestamp!, $after: String
) {
  repository(owner: $org, name: $repo) {
    defaultBranchRef {
      target {
        ... on Commit { history(first: 100, since: $since, until: $until, after: $after) { ...CommitPage } }
      }
    }
  }
}
"""
    + COMMIT_PAGE
)

MERGED_PULL_REQUESTS = """
query MergedPullRequests($q: String!, $after: String) {
  search(type: ISSUE, query: $q, first: 100, after: $after) {
    issueCount
    pageInfo { hasNextPage endCursor }
    nodes {
      ... on PullRequest {
        number
        title
        url
        createdAt
        mergedAt
        author { login }
        mergedBy { login }
        repository { name isArchived defaultBranchRef { name } }
        baseRefName
        baseRefOid
        headRefName
        headRefOid
        mergeCommit { oid }
        baseRef {
          branchProtectionRule {
            requiredStatusCheckContexts
            requiresApprovingReviews
            requiredApprovingReviewCount
          }
          refUpdateRule { requiredStatusCheckContexts }
          rules(first: 25) {
            totalCount
            nodes {
              type
              parameters {
                __typename
                ... on RequiredStatusChecksParameters { requiredStatusChecks { context } }
              }
            }
          }
        }
        commits(last: 1) {
          nodes {
            commit {
              oid
              committedDate
              statusCheckRollup {
                state
                contexts(first: 50) {
                  totalCount
                  nodes {
                    __typename
                    ... on CheckRun { name status conclusion completedAt }
                    ... on StatusContext { context state createdAt }
                  }
                }
              }
            }
          }
        }
        reviews(first: 50) {
          totalCount
          nodes { author { login } state submittedAt commit { oid } }
        }
      }
    }
  }
}
"""

MEMBERS = """
query OrgMembers($org: String!, $after: String) {
  organization(login: $org) {
    membersWithRole(first: 100, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { role hasTwoFactorEnabled node { login name databaseId } }
    }
  }
}
"""

TEAMS = """
query OrgTeams($org: String!, $after: String) {
  organization(login: $org) {
    teams(first: 100, after: $after, orderBy: {field: NAME, direction: ASC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        slug
        name
        privacy
        parentTeam { slug }
        members(first: 100, membership: ALL) {
          pageInfo { hasNextPage endCursor }
          edges { role node { login } }
        }
        repositories(first: 100) { pageInfo { hasNextPage endCursor } edges { permission node { name } } }
      }
    }
  }
}
"""

TEAM_MEMBERS = """
query TeamMembers($org: String!, $team: String!, $after: String) {
  organization(login: $org) {
    team(slug: $team) {
      members(first: 100, after: $after, membership: ALL) {
        pageInfo { hasNextPage endCursor }
        edges { role node { login } }
      }
    }
  }
}
"""

TEAM_REPOSITORIES = """
query TeamRepositories($org: String!, $team: String!, $after: String) {
  organization(login: $org) {
    team(slug: $team) {
      repositories(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        edges { permission node { name } }
      }
    }
  }
}
"""

REPOSITORY_COLLABORATORS = """
query RepositoryCollaborators($org: String!, $after: String) {
  organization(login: $org) {
    repositories(first: 100, after: $after, orderBy: {field: NAME, direction: ASC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        name
        isArchived
        collaborators(first: 100, affiliation: DIRECT) {
          pageInfo { hasNextPage endCursor }
          edges { permission node { login } }
        }
      }
    }
  }
}
"""

DIRECT_COLLABORATORS = """
query DirectCollaborators($org: String!, $repo: String!, $after: String) {
  repository(owner: $org, name: $repo) {
    collaborators(first: 100, after: $after, affiliation: DIRECT) {
      pageInfo { hasNextPage endCursor }
      edges { permission node { login } }
    }
  }
}
"""

BRANCH_RULES_PAGE = """
fragment BranchRules on RepositoryRuleConnection {
  totalCount
  pageInfo { hasNextPage endCursor }
  nodes {
    type
    parameters {
      __typename
      ... on PullRequestParameters {
        requiredApprovingReviewCount
        dismissStaleReviewsOnPush
        requireCodeOwnerReview
        requireLastPushApproval
      }
      ... on RequiredStatusChecksParameters {
        strictRequiredStatusChecksPolicy
        requiredStatusChecks { context integrationId }
      }
    }
    repositoryRuleset {
      databaseId
      name
      enforcement
      source {
        __typename
        ... on Repository { name }
        ... on Organization { login }
        ... on Enterprise { slug }
      }
      bypassActors(first: 10) {
        totalCount
        nodes {
          bypassMode
          organizationAdmin
          repositoryRoleName
          enterpriseOwner
          deployKey
          actor { __typename ... on Team { slug } ... on App { slug } }
        }
      }
    }
  }
}
"""

DEFAULT_BRANCH_PROTECTION = (
    """
query DefaultBranchProtection($org: String!, $after: String) {
  organization(login: $org) {
    repositories(first: 100, after: $after, orderBy: {field: NAME, direction: ASC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        name
        isArchived
        visibility
        viewerCanAdminister
        defaultBranchRef {
          name
          branchProtectionRule {
            pattern
            isAdminEnforced
            requiresApprovingReviews
            requiredApprovingReviewCount
            dismissesStaleReviews
            requiresCodeOwnerReviews
            requireLastPushApproval
            requiresStatusChecks
            requiresStrictStatusChecks
            requiredStatusCheckContexts
            requiresCommitSignatures
            allowsForcePushes
            allowsDeletions
            requiresLinearHistory
            lockBranch
          }
          refUpdateRule {
            pattern
            requiredApprovingReviewCount
            requiresCodeOwnerReviews
            requiredStatusCheckContexts
            requiresSignatures
            allowsForcePushes
            allowsDeletions
            requiresLinearHistory
          }
          rules(first: 25) { ...BranchRules }
        }
      }
    }
  }
}
"""
    + BRANCH_RULES_PAGE
)

DEFAULT_BRANCH_RULES = (
    """
query DefaultBranchRules($org: String!, $repo: String!, $after: String) {
  repository(owner: $org, name: $repo) {
    defaultBranchRef { rules(first: 100, after: $after) { ...BranchRules } }
  }
}
"""
    + BRANCH_RULES_PAGE
)

ALL_QUERIES: dict[str, str] = {
    "Repositories": REPOSITORIES,
    "DefaultBranchCommits": DEFAULT_BRANCH_COMMITS,
    "RepositoryCommits": REPOSITORY_COMMITS,
    "MergedPullRequests": MERGED_PULL_REQUESTS,
    "OrgMembers": MEMBERS,
    "OrgTeams": TEAMS,
    "RepositoryCollaborators": REPOSITORY_COLLABORATORS,
    "TeamMembers": TEAM_MEMBERS,
    "TeamRepositories": TEAM_REPOSITORIES,
    "DirectCollaborators": DIRECT_COLLABORATORS,
    "DefaultBranchProtection": DEFAULT_BRANCH_PROTECTION,
    "DefaultBranchRules": DEFAULT_BRANCH_RULES,
}
